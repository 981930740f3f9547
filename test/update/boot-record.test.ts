/**
 * The boot side of an update against real RAUC (private bus, file slots, the image's bootloader
 * backend): after an install, the boot into the new slot is recorded (update.booted), reaching
 * boot-complete.target keeps it (update.marked-good); an install whose slot spent its boot tries
 * without getting healthy ends back on the old slot by itself (update.rolled-back). The reboots are
 * RAUC's service restarted with the slot the bootloader would have picked; no QEMU here.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newStack, SIM_EXAMPLE } from "../e2e/harness.js";
import type { DevStack } from "../../devkit/dev-stack.js";
import { updateBootRecord, updateInstall, UPDATE_AUDIT_FILE } from "../../bin/commands/gateway/update.js";
import type { Io } from "../../bin/output.js";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
import { Rauc } from "../../firmware/update/rauc.js";
import { makeBundle, releaseKey, requireTools, startRaucSystem, type RaucSystem, type ReleaseKey } from "./rauc-fixture.js";

let stack: DevStack;
let gw: { file: string; stateDir: string };
let sys: RaucSystem;
let release: ReleaseKey;
let dir: string;
let releaseFile: string;

before(async () => {
  requireTools();
  stack = await newStack();
  dir = join(stack.dir, "update");
  const g = await stack.addGateway("gw-update-boot", SIM_EXAMPLE());
  gw = { file: g.file, stateDir: g.config.gateway.stateDir };
  release = releaseKey(join(dir, "keys"), "release");
  sys = await startRaucSystem(join(dir, "system"), release.cert);
  releaseFile = join(dir, "release");
});

after(async () => {
  await sys.stop();
  await stack.stop();
});

const quiet = (): Io & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
};

const bootRecord = async (bootComplete: boolean): Promise<string[]> => {
  const io = quiet();
  const code = await updateBootRecord({ configFile: gw.file, raucConfig: sys.config, raucEnv: sys.env, bootComplete }, io);
  assert.equal(code, 0, io.lines.join("\n"));
  return (JSON.parse(io.lines.at(-1) ?? "{}") as { events: string[] }).events;
};

const installVersion = async (version: string, running: string): Promise<void> => {
  writeFileSync(releaseFile, `version=${running}\n`);
  const io = quiet();
  const bundle = makeBundle(dir, `v${version}`, { version, signer: release, payload: randomBytes(200 * 1024) });
  const code = await updateInstall(bundle, { configFile: gw.file, raucConfig: sys.config, raucEnv: sys.env, releaseFile }, io);
  assert.equal(code, 0, io.lines.join("\n") + sys.log());
};

const lastEvent = (): { type: string; data: Record<string, unknown> } | undefined =>
  readFileSync(join(gw.stateDir, UPDATE_AUDIT_FILE), "utf8").trim().split("\n")
    .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> }).filter((e) => e.type !== "checkpoint")
    .map((e) => ({ type: e.type, data: e.data })).at(-1);

void test("v1.3.0 into slot B: its boot is recorded, boot-complete keeps it (blessed), nothing is recorded twice", async () => {
  await installVersion("1.3.0", "1.2.0");
  assert.deepEqual(await bootRecord(false), [], "still on A before the reboot: the install is pending, nothing happened yet");
  await sys.reboot("b");
  assert.deepEqual(await bootRecord(false), ["update.booted"]);
  assert.deepEqual(lastEvent(), { type: "update.booted", data: { slot: "rootfs.1", version: "1.3.0" } });
  // The health check passed: boot-complete.target; systemd-bless-boot drops B's counter.
  renameSync(join(sys.entries, "otgw-b+3.conf"), join(sys.entries, "otgw-b.conf"));
  assert.deepEqual(await bootRecord(true), ["update.marked-good"]);
  assert.deepEqual(lastEvent(), { type: "update.marked-good", data: { slot: "rootfs.1", version: "1.3.0" } });
  assert.deepEqual(await bootRecord(false), [], "the next boot has nothing new to say");
  const st = await new Rauc({ config: sys.config, env: sys.env }).status();
  assert.equal(st.primary, "rootfs.1");
});

void test("v1.4.0 into slot A never gets healthy: after its tries the bootloader is back on B by itself, recorded as rolled back", async () => {
  await installVersion("1.4.0", "1.3.0");
  assert.match(readFileSync(join(sys.entries, "otgw-a+3.conf"), "utf8"), /^sort-key otgw-1$/m, "A boots next with 3 tries");
  await sys.reboot("a");
  assert.deepEqual(await bootRecord(false), ["update.booted"]);
  // Three boots of A without reaching boot-complete.target: systemd-boot counted A down to 0 and
  // now boots B, the entry with tries left.
  renameSync(join(sys.entries, "otgw-a+3.conf"), join(sys.entries, "otgw-a+0-3.conf"));
  const st = await new Rauc({ config: sys.config, env: sys.env }).status();
  assert.equal(st.primary, "rootfs.1", "the backend reports the slot systemd-boot boots now");
  await sys.reboot("b");
  assert.deepEqual(await bootRecord(false), ["update.rolled-back"]);
  assert.deepEqual(lastEvent(), { type: "update.rolled-back", data: { from: "rootfs.0", to: "rootfs.1", version: "1.4.0", bootStatus: "bad", everBooted: true } });
  assert.ok(verifyAuditFile(join(gw.stateDir, UPDATE_AUDIT_FILE)).ok);
});
