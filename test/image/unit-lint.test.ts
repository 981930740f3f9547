import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageDir, requireTool, run, unitRoot } from "./tools.js";

/** The gate of issue #7: `systemd-analyze security --offline=yes` must rate otgw.service at most this. */
const MAX_EXPOSURE = 2.0;

/** Settings the sandbox must keep whatever the score says (docs/service.md explains each). */
const REQUIRED: Array<[key: string, value: string]> = [
  ["ProtectSystem", "strict"], ["ProtectHome", "yes"], ["PrivateTmp", "yes"], ["NoNewPrivileges", "yes"],
  ["CapabilityBoundingSet", ""], ["AmbientCapabilities", ""], ["User", "otgw"], ["DevicePolicy", "closed"],
  ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"], ["SystemCallFilter", "@system-service"],
  ["SystemCallArchitectures", "native"], ["ReadWritePaths", "/var/lib/otgw"], ["StateDirectory", "otgw"],
  ["ProtectKernelTunables", "yes"], ["ProtectKernelModules", "yes"], ["ProtectControlGroups", "yes"],
  ["RestrictSUIDSGID", "yes"], ["RestrictNamespaces", "yes"], ["LockPersonality", "yes"], ["UMask", "0077"],
  ["Type", "notify"], ["WatchdogSec", "30s"],
];
/** The only devices it may open. */
const DEVICES = ["/dev/tpmrm0 rw", "char-ttyUSB rw", "char-ttyACM rw", "char-ttyAMA rw", "char-ttyS rw", "char-gpiochip rw"];

const settings = (unit: string): Map<string, string[]> => {
  const m = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const hit = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (hit?.[1] !== undefined) m.set(hit[1], [...(m.get(hit[1]) ?? []), hit[2] ?? ""]);
  }
  return m;
};

async function exposure(root: string, unit: string): Promise<number> {
  const r = await run("systemd-analyze", ["security", "--offline=yes", `--root=${root}`, "--no-pager", unit]);
  const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout);
  assert.ok(m?.[1], `no exposure level in systemd-analyze output:\n${r.stdout}\n${r.stderr}`);
  return Number(m[1]);
}

void test("otgw.service and otgw-egress.service pass systemd-analyze verify with nothing on stderr", async () => {
  requireTool("systemd-analyze", "systemd");
  const root = unitRoot(mkdtempSync(join(tmpdir(), "otgw-unit-")));
  try {
    const r = await run("systemd-analyze", ["verify", `--root=${root}`, "otgw.service", "otgw-egress.service"]);
    assert.equal(r.stderr, "", "systemd-analyze verify printed warnings (unknown keys are only warnings, so any stderr fails)");
    assert.equal(r.code, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

void test(`otgw.service keeps its sandbox settings and rates at most ${MAX_EXPOSURE} in systemd-analyze security`, async (t) => {
  requireTool("systemd-analyze", "systemd");
  const text = readFileSync(join(imageDir(), "units", "otgw.service"), "utf8");
  const s = settings(text);
  for (const [k, v] of REQUIRED) assert.ok(s.get(k)?.includes(v), `otgw.service must set ${k}=${v} (docs/service.md)`);
  assert.deepEqual([...(s.get("DeviceAllow") ?? [])].sort(), [...DEVICES].sort(), "DeviceAllow is the TPM, serial ports and GPIO chips only");
  assert.ok(!s.has("MemoryDenyWriteExecute"), "MemoryDenyWriteExecute kills V8's JIT (docs/service.md)");
  assert.deepEqual(s.get("SupplementaryGroups"), ["tss dialout gpio"]);

  const root = unitRoot(mkdtempSync(join(tmpdir(), "otgw-unit-")));
  try {
    const score = await exposure(root, "otgw.service");
    t.diagnostic(`otgw.service exposure ${score}`);
    assert.ok(score <= MAX_EXPOSURE, `otgw.service exposure ${score} > ${MAX_EXPOSURE}`);

    // The gate can fail: the same unit stripped of its hardening scores far above it.
    const stripped = text.split("\n").filter((l) => !/^(Protect|Private|Restrict|SystemCall|Capability|NoNew|Device|Lock|UMask)/.test(l)).join("\n");
    writeFileSync(join(root, "usr/lib/systemd/system/otgw.service"), stripped);
    const worse = await exposure(root, "otgw.service");
    t.diagnostic(`stripped of hardening: ${worse}`);
    assert.ok(worse > MAX_EXPOSURE, `a unit without hardening must fail the gate (got ${worse})`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

void test("sysusers.d creates the otgw system user in tss, dialout and gpio only; tmpfiles.d makes its state 0700", async () => {
  requireTool("systemd-sysusers", "systemd");
  requireTool("systemd-tmpfiles", "systemd");
  const root = mkdtempSync(join(tmpdir(), "otgw-sysusers-"));
  try {
    cpSync(join(imageDir(), "sysusers.d"), join(root, "usr/lib/sysusers.d"), { recursive: true });
    cpSync(join(imageDir(), "tmpfiles.d"), join(root, "usr/lib/tmpfiles.d"), { recursive: true });
    // A Debian-like base: root and dialout exist (base-passwd), tss does not (no TPM packages).
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\ndialout:x:20:\n");
    writeFileSync(join(root, "etc/shadow"), "");
    writeFileSync(join(root, "etc/gshadow"), "");
    const u = await run("systemd-sysusers", [`--root=${root}`]);
    assert.equal(u.code, 0, u.stderr);
    const passwd = readFileSync(join(root, "etc/passwd"), "utf8");
    const group = readFileSync(join(root, "etc/group"), "utf8");
    const user = /^otgw:x:(\d+):(\d+):[^:]*:\/var\/lib\/otgw:\/usr\/sbin\/nologin$/m.exec(passwd);
    assert.ok(user, `otgw user with nologin shell:\n${passwd}`);
    assert.ok(Number(user[1]) < 1000 && Number(user[1]) > 0, "a system uid");
    const members = (g: string): string[] => (new RegExp(`^${g}:x:\\d+:(.*)$`, "m").exec(group)?.[1] ?? "").split(",").filter(Boolean);
    for (const g of ["tss", "dialout", "gpio"]) assert.deepEqual(members(g), ["otgw"], `otgw in group ${g}`);
    const memberOf = group.split("\n").filter((l) => l.split(":")[3]?.split(",").includes("otgw")).map((l) => l.split(":")[0]);
    assert.deepEqual(memberOf.sort(), ["dialout", "gpio", "tss"], "and in no other group");
    assert.ok(/^otgw:x:\d+:$/m.test(group), "its own group");

    const tf = await run("systemd-tmpfiles", [`--root=${root}`, "--create"]);
    assert.equal(tf.code, 0, tf.stderr);
    const st = await run("stat", ["-c", "%a %u", join(root, "var/lib/otgw")]);
    assert.equal(st.stdout.trim(), `700 ${user[1]}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
