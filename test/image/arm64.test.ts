/**
 * The arm64 side that fits in CI: image/arm64-tree.sh makes a chrootless arm64 trixie tree with
 * nodejs and the TPM libraries, installs the project exactly as the arm64 image gets it (better-sqlite3
 * and epoll cross-compiled, koffi and serialport arm64 binaries), and runs the tree's own arm64 node
 * under qemu-aarch64-static: the gateway's self-test and `otgw config check` of the site config.
 * The full arm64 image and its QEMU boot run outside CI (docs/image.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";
import { runLogged } from "./support.js";

void test("arm64: the project runs on the tree's arm64 node under qemu-aarch64-static (self-test + config check)", async (t) => {
  const out = mkdtempSync(join(tmpdir(), "otgw-image-arm64-"));
  const log = join(out, "arm64-tree.log");
  t.diagnostic(`arm64 tree log: ${log}`);
  await runLogged("bash", ["image/arm64-tree.sh", out], log, repoRoot());
  const text = readFileSync(log, "utf8");
  // The self-test really ran on arm64 with the ABI the native modules were built for.
  assert.match(text, /selftest: OK {3}node: v20\.\d+\.\d+ arm64 abi 115/);
  for (const name of ["site config", "better-sqlite3", "koffi", "serialport binding", "epoll \\(onoff\\)"]) {
    assert.match(text, new RegExp(`selftest: OK {3}${name}: `), `self-test ${name} did not pass on arm64`);
  }
  assert.match(text, /selftest: passed 6\/6/);
  assert.doesNotMatch(text, /selftest: FAIL/);
  // `otgw config check` prints its verdict for the site config (exit status checked by the script).
  assert.match(text, /config\.yaml/);
  const timing = text.split("\n").find((l) => l.startsWith("arm64-tree: "));
  assert.ok(timing, "the script's summary line is missing");
  t.diagnostic(timing);
  // The arm64 tree got only the gateway's folders, like the amd64 image (docs/architecture.md).
  const shipped = readFileSync(join(out, "tree", "opt", "otgw", "SHIPPED"), "utf8").trim().split("\n");
  assert.ok(shipped.includes("dist/bin/otgw.js") && shipped.includes("dist/firmware/runtime/gateway.js"), "the gateway is in the tree");
  assert.deepEqual(shipped.filter((f) => !/^dist\/(kernel|envelope|hal|firmware|provisioning|bin)\//.test(f) || /^dist\/(envelope\/verify\/|bin\/(groups|commands)\/(?!gateway\/))/.test(f)), [],
    "receiver, fleet or dev-kit code was staged for arm64");
  rmSync(join(out, "tree"), { recursive: true, force: true });
});
