/**
 * `otgw update install | status` and `otgw check`'s slot line against real RAUC (rauc service on a
 * private D-Bus bus, file slots, the image's bootloader backend over a directory ESP): a newer bundle
 * is written to slot B and made primary with fresh boot tries; another key, an older version and
 * another architecture are refused and leave slot B alone; every outcome is in the signed update
 * audit log. No QEMU: booting the slot is the image tests' business (docs/update.md).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newStack } from "../e2e/harness.js";
import type { DevStack } from "../../devkit/dev-stack.js";
import { SIM_EXAMPLE } from "../e2e/harness.js";
import { updateInstall, updateStatus, UPDATE_AUDIT_FILE } from "../../bin/commands/gateway/update.js";
import { updateLine } from "../../bin/commands/gateway/check.js";
import type { Io } from "../../bin/output.js";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
import { Rauc } from "../../firmware/update/rauc.js";
import { makeBundle, releaseKey, requireTools, SLOT_BYTES, startRaucSystem, type RaucSystem, type ReleaseKey } from "./rauc-fixture.js";

const capture = (): Io & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
};

let stack: DevStack;
let gw: { file: string; stateDir: string };
let sys: RaucSystem;
let release: ReleaseKey;
let other: ReleaseKey;
let dir: string;
let releaseFile: string;

before(async () => {
  requireTools();
  stack = await newStack();
  dir = join(stack.dir, "update");
  const g = await stack.addGateway("gw-update-1", SIM_EXAMPLE());
  gw = { file: g.file, stateDir: g.config.gateway.stateDir };
  release = releaseKey(join(dir, "keys"), "release");
  other = releaseKey(join(dir, "keys"), "other");
  sys = await startRaucSystem(join(dir, "system"), release.cert);
  releaseFile = join(dir, "release");
  writeFileSync(releaseFile, "version=1.2.0\n");
});

after(async () => {
  await sys.stop();
  await stack.stop();
});

const install = async (bundle: string, allowDowngrade = false): Promise<{ code: number; out: Array<Record<string, unknown>>; text: string }> => {
  const io = capture();
  const code = await updateInstall(bundle, { configFile: gw.file, raucConfig: sys.config, raucEnv: sys.env, releaseFile, allowDowngrade }, io);
  const out = io.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, out, text: io.lines.join("\n") + "\n--- rauc service:\n" + sys.log() };
};

const auditEvents = (): Array<{ type: string; data: Record<string, unknown> }> =>
  readFileSync(join(gw.stateDir, UPDATE_AUDIT_FILE), "utf8").trim().split("\n")
    .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> }).filter((e) => e.type !== "checkpoint");

const slotB = (): Buffer => readFileSync(sys.slotB);
const untouched = (): boolean => slotB().equals(Buffer.alloc(SLOT_BYTES));

void test("refused: a bundle signed by another key, an older version, another architecture; slot B stays untouched", async () => {
  const cases = [
    { name: "other-key", spec: { version: "1.3.0", signer: other }, code: "UPDATE_SIGNATURE" },
    { name: "older", spec: { version: "1.1.0", signer: release }, code: "UPDATE_DOWNGRADE" },
    { name: "same", spec: { version: "1.2.0", signer: release }, code: "UPDATE_DOWNGRADE" },
    { name: "arm64", spec: { version: "1.3.0", compatible: "otgw-arm64", signer: release }, code: "UPDATE_INCOMPATIBLE" },
  ] as const;
  for (const c of cases) {
    const bundle = makeBundle(dir, c.name, { ...c.spec, payload: randomBytes(256 * 1024) });
    const r = await install(bundle);
    assert.equal(r.code, 3, `${c.name}: refused with exit 3\n${r.text}`);
    assert.deepEqual(r.out.at(-1), { ok: false, code: c.code }, `${c.name}\n${r.text}`);
    assert.ok(untouched(), `${c.name}: slot B was not written`);
    const ev = auditEvents().at(-1);
    assert.equal(ev?.type, "update.refused", c.name);
    assert.equal(ev?.data.code, c.code, c.name);
  }
  assert.ok(existsSync(join(sys.entries, "otgw-b+0.conf")), "B's boot entry still has no tries");
  const v = verifyAuditFile(join(gw.stateDir, UPDATE_AUDIT_FILE));
  assert.ok(v.ok, JSON.stringify(v));
});

void test("accepted: a newer bundle is written to slot B with its kernel and entry, B boots next with 3 tries; audited", async () => {
  const payload = randomBytes(300 * 1024);
  const bundle = makeBundle(dir, "v1.3.0", { version: "1.3.0", signer: release, payload });
  const r = await install(bundle);
  assert.equal(r.code, 0, r.text);
  const done = r.out.at(-1) as { ok: boolean; installed: Record<string, unknown> };
  assert.equal(done.ok, true);
  assert.equal(done.installed.version, "1.3.0");
  assert.equal(done.installed.from, "1.2.0");
  assert.equal(done.installed.slot, "rootfs.1");
  assert.equal(done.installed.downgrade, false);
  assert.ok(slotB().subarray(0, payload.length).equals(payload), "slot B holds the bundle's root image");
  // The slot hook put B's kernel on the ESP and rewrote its entry; the backend gave it fresh tries.
  assert.equal(readFileSync(join(sys.esp, "otgw", "b", "vmlinuz"), "utf8"), "kernel of 1.3.0\n");
  assert.deepEqual(readdirSync(sys.entries).sort(), ["otgw-a.conf", "otgw-b+3.conf"]);
  const entryB = readFileSync(join(sys.entries, "otgw-b+3.conf"), "utf8");
  assert.match(entryB, /^options root=PARTUUID=6f746777-0000-4d00-8000-000000000006 rauc\.slot=b /m);
  assert.match(entryB, /^sort-key otgw-1$/m);
  assert.match(readFileSync(join(sys.entries, "otgw-a.conf"), "utf8"), /^sort-key otgw-2$/m);
  const ev = auditEvents().at(-1);
  assert.equal(ev?.type, "update.installed");
  assert.equal(ev?.data.version, "1.3.0");
  assert.equal(ev?.data.bundleSha256, (await import("node:crypto")).createHash("sha256").update(readFileSync(bundle)).digest("hex"));
  assert.ok(verifyAuditFile(join(gw.stateDir, UPDATE_AUDIT_FILE)).ok);

  // status: A booted, B primary with version 1.3.0.
  const io = capture();
  assert.equal(await updateStatus({ raucConfig: sys.config, raucEnv: sys.env }, io), 0, io.lines.join("\n"));
  const st = JSON.parse(io.lines[0] ?? "{}") as { booted: string; primary: string; slots: Array<{ name: string; version: string | null; bootStatus: string }> };
  assert.equal(st.booted, "a");
  assert.equal(st.primary, "rootfs.1");
  assert.deepEqual(st.slots.map((s) => [s.name, s.version, s.bootStatus]), [["rootfs.0", null, "good"], ["rootfs.1", "1.3.0", "good"]]);
  const [line] = await updateLine(sys.config, sys.env);
  assert.deepEqual(line, { status: "OK", name: "update slots", detail: "a (image) good booted, b 1.3.0 good primary" });
});

void test("fallback by itself: once systemd-boot has spent B's tries, RAUC sees A primary and B bad", async () => {
  // What systemd-boot does across three failed boots of B (the health check never passed).
  renameSync(join(sys.entries, "otgw-b+3.conf"), join(sys.entries, "otgw-b+0-3.conf"));
  const st = await new Rauc({ config: sys.config, env: sys.env }).status();
  assert.equal(st.primary, "rootfs.0");
  assert.equal(st.slots.find((s) => s.name === "rootfs.1")?.bootStatus, "bad");
  const [line] = await updateLine(sys.config, sys.env);
  assert.equal(line?.detail, "a (image) good booted primary, b 1.3.0 bad");
});

void test("--allow-downgrade installs an older version, and the audit log says it was a downgrade", async () => {
  const payload = randomBytes(200 * 1024);
  const bundle = makeBundle(dir, "v1.0.0", { version: "1.0.0", signer: release, payload });
  const r = await install(bundle, true);
  assert.equal(r.code, 0, r.text);
  assert.ok(slotB().subarray(0, payload.length).equals(payload));
  const ev = auditEvents().at(-1);
  assert.equal(ev?.type, "update.installed");
  assert.equal(ev?.data.downgrade, true);
  assert.equal(ev?.data.from, "1.2.0");
  assert.equal(ev?.data.version, "1.0.0");
  assert.ok(existsSync(join(sys.entries, "otgw-b+3.conf")), "B has fresh tries again");
});

void test("verity bundles (the image's format): rauc info verifies the release key's and refuses another key's", async () => {
  const rauc = new Rauc({ config: sys.config, env: sys.env });
  const good = makeBundle(dir, "verity-good", { version: "2.0.0", format: "verity", signer: release, payload: randomBytes(256 * 1024) });
  assert.deepEqual(await rauc.info(good), { compatible: "otgw-amd64", version: "2.0.0", build: null });
  const bad = makeBundle(dir, "verity-other", { version: "2.0.0", format: "verity", signer: other, payload: randomBytes(256 * 1024) });
  await assert.rejects(rauc.info(bad), (e: Error & { code?: string }) => e.code === "UPDATE_SIGNATURE");
  // A bundle whose signed part (the CMS signature over the manifest, at its end) was altered. The
  // verity payload itself is checked block by block by dm-verity when RAUC reads it during an
  // install, which needs device-mapper: the image (QEMU) proves that, not this host.
  const tampered = join(dir, "verity-tampered.raucb");
  const bytes = readFileSync(good);
  const at = bytes.length - 200;
  bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  writeFileSync(tampered, bytes);
  await assert.rejects(rauc.info(tampered), (e: Error & { code?: string }) => e.code === "UPDATE_SIGNATURE" || e.code === "UPDATE_BUNDLE_INVALID");
});
