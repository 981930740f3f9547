import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rauc } from "../../firmware/update/rauc.js";
import { runningVersion } from "../../firmware/update/install.js";
import { UpdateError } from "../../kernel/errors.js";

void test("no rauc program: UPDATE_RAUC_MISSING naming the Debian package, for info, install and status alike", async () => {
  const rauc = new Rauc({ binary: join(tmpdir(), "no-such-dir", "rauc"), config: "/dev/null" });
  for (const call of [() => rauc.status(), () => rauc.info("x.raucb"), () => rauc.install("x.raucb")]) {
    await assert.rejects(call(), (e: unknown) => e instanceof UpdateError && e.code === "UPDATE_RAUC_MISSING" && /install the Debian package rauc/.test(e.message));
  }
});

void test("the running release: read from version=, and an unreadable or empty release file says so", () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-release-"));
  const f = join(dir, "release");
  writeFileSync(f, "# written by the image build\nversion=1.4.2\n");
  assert.equal(runningVersion(f), "1.4.2");
  writeFileSync(f, "nothing here\n");
  assert.throws(() => runningVersion(f), (e: unknown) => e instanceof UpdateError && e.code === "UPDATE_RELEASE_UNKNOWN" && e.message.includes(f));
  assert.throws(() => runningVersion(join(dir, "missing")), (e: unknown) => e instanceof UpdateError && e.code === "UPDATE_RELEASE_UNKNOWN" && /anti-rollback cannot decide/.test(e.message));
});

void test("the compatible comes from RAUC's system.conf [system] section, and its absence is named", () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-rauc-conf-"));
  const conf = join(dir, "system.conf");
  writeFileSync(conf, "[slot.rootfs.0]\ncompatible=not-this\n[system]\ncompatible = otgw-arm64\nbootloader=custom\n");
  assert.equal(new Rauc({ config: conf }).compatible(), "otgw-arm64");
  writeFileSync(conf, "[system]\nbootloader=custom\n");
  assert.throws(() => new Rauc({ config: conf }).compatible(), (e: unknown) => e instanceof UpdateError && e.message.includes(`${conf}: no compatible=`));
});
