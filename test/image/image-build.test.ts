/**
 * The amd64 image, built and booted for real: image/build.sh (mmdebstrap of trixie, genimage) with the
 * CI build config, then QEMU + OVMF (TCG) boots it and the smoke unit inside reports each check on
 * the serial console before powering off. Output (image, SBOM, lock, boot log) stays in a temporary
 * directory printed at the start; the raw image is removed at the end (the .zst stays).
 * Needs root and the host tools image/setup-host.sh installs (it runs as part of the build).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";
import { readSummary, runLogged, sha256File } from "./support.js";

const SMOKE_CHECKS = [
  "service-active", "service-user", "state-writable", "write-confined", "root-readonly", "var-writable",
  "egress-loaded", "check-unprovisioned", "selftest", "no-compilers", "no-password-login", "ssh", "time-sync",
  "journal-persistent", "no-failed-units",
];

void test("amd64 image: built with mmdebstrap + genimage, booted with OVMF under QEMU, smoke checks pass", async (t) => {
  const root = repoRoot();
  const out = mkdtempSync(join(tmpdir(), "otgw-image-amd64-"));
  t.diagnostic(`image output (build log, SBOM, lock, boot log): ${out}`);
  const buildLog = join(out, "build.log");
  const started = Date.now();
  await runLogged("bash", ["image/build.sh", "--arch", "amd64", "--out", out, "--config", "image/build-config.ci.yaml", "--keep-raw"], buildLog, root);
  const buildSeconds = (Date.now() - started) / 1000;

  const img = join(out, "otgw-amd64.img");
  for (const f of ["otgw-amd64.img.zst", "otgw-amd64.sha256", "otgw-amd64.img.bmap", "otgw-amd64.cdx.json", "otgw-amd64.packages.lock", "otgw-amd64.build.txt"]) {
    assert.ok(existsSync(join(out, f)), `${f} missing from the build output`);
  }
  // The published checksums match the files next to them.
  const sums = readFileSync(join(out, "otgw-amd64.sha256"), "utf8").trim().split("\n").map((l) => l.split(/\s+/));
  for (const [sum, name] of sums) assert.equal(sha256File(join(out, name ?? "")), sum, `sha256 of ${name}`);
  assert.ok(sums.some(([, n]) => n === "otgw-amd64.img.zst"), "the .zst image has a checksum");

  // The SBOM lists the Debian and npm packages that are really in the image.
  const bom = JSON.parse(readFileSync(join(out, "otgw-amd64.cdx.json"), "utf8")) as { bomFormat: string; components: { purl: string }[] };
  assert.equal(bom.bomFormat, "CycloneDX");
  const purls = bom.components.map((c) => c.purl);
  for (const want of ["pkg:deb/debian/nodejs@", "pkg:deb/debian/nftables@", "pkg:deb/debian/systemd@", "pkg:npm/better-sqlite3@12.", "pkg:npm/koffi@", "pkg:npm/mqtt@"]) {
    assert.ok(purls.some((p) => p.startsWith(want)), `SBOM lacks ${want}`);
  }
  assert.ok(!purls.some((p) => /^pkg:npm\/(typescript|eslint|tsx)@/.test(p)), "dev dependencies leaked into the image");
  assert.ok(!purls.some((p) => /^pkg:deb\/debian\/(gcc|g\+\+|cpp|binutils|make)(-[0-9.]+)?@/.test(p)), "a compiler package is in the image");
  const lock = readFileSync(join(out, "otgw-amd64.packages.lock"), "utf8");
  assert.match(lock, /^nodejs 20\.\d+\.\d+\S* amd64$/m, "trixie's nodejs 20 is in the image");

  // Only the gateway's folders ship (docs/architecture.md): no receiver, fleet, dev-kit or test code.
  const shipped = readFileSync(join(out, "otgw-amd64.files.txt"), "utf8").trim().split("\n");
  t.diagnostic(`shipped ${shipped.length} files of dist/: ${[...new Set(shipped.map((f) => f.split("/").slice(0, 2).join("/")))].join(" ")}`);
  assert.deepEqual(shipped.filter((f) => !/^dist\/(kernel|envelope|hal|firmware|provisioning|bin)\//.test(f)), [], "files outside the gateway's folders were shipped");
  assert.deepEqual(shipped.filter((f) => /^dist\/(envelope\/verify\/|bin\/(groups|commands)\/(?!gateway\/))/.test(f)), [], "receiver-side envelope code or non-gateway CLI groups were shipped");
  for (const want of ["dist/bin/otgw.js", "dist/firmware/runtime/gateway.js", "dist/envelope/sealer.js", "dist/hal/registry.js", "dist/provisioning/tpm/tpm-keystore.js"]) {
    assert.ok(shipped.includes(want), `${want} is not in the image`);
  }

  const summary = readSummary(join(out, "otgw-amd64.build.txt"));
  assert.equal(summary.get("raw_sha256"), sha256File(img), "the summary names the raw image's sha256");

  const bootLog = join(out, "boot.log");
  t.diagnostic(`boot log: ${bootLog}`);
  const bootStarted = Date.now();
  await runLogged("bash", ["image/qemu-amd64.sh", img, bootLog], join(out, "qemu.log"), root);
  const bootSeconds = (Date.now() - bootStarted) / 1000;
  const serial = readFileSync(bootLog, "utf8").replace(/\r/g, "");
  const lines = serial.split("\n").filter((l) => l.includes("OTGW-SMOKE "));
  const done = lines.find((l) => /OTGW-SMOKE DONE /.test(l));
  assert.ok(done, `the smoke unit never finished: no DONE line on the serial console (boot log ${bootLog})`);
  const failed = lines.filter((l) => /OTGW-SMOKE FAIL /.test(l));
  const logs = serial.split("\n").filter((l) => l.includes("OTGW-SMOKE LOG ")).join("\n");
  assert.deepEqual(failed, [], `smoke checks failed (boot log ${bootLog})${logs ? `; journal of the failed units:\n${logs}` : ""}`);
  for (const name of SMOKE_CHECKS) {
    assert.ok(lines.some((l) => l.includes(`OTGW-SMOKE PASS ${name} `) || l.endsWith(`OTGW-SMOKE PASS ${name}`)), `smoke check ${name} did not report PASS`);
  }
  assert.match(done, /fail=0/);
  assert.equal(sha256File(img), summary.get("raw_sha256"), "booting (snapshot=on) left the image unchanged");

  t.diagnostic(`build ${buildSeconds.toFixed(0)} s, boot to power-off ${bootSeconds.toFixed(0)} s (${done.trim()}); ` +
    `raw ${(statSync(img).size / 2 ** 20).toFixed(0)} MiB, zstd ${(statSync(join(out, "otgw-amd64.img.zst")).size / 2 ** 20).toFixed(0)} MiB`);
  rmSync(img);
});
