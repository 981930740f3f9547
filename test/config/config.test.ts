import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";
import { ConfigError } from "../../kernel/errors.js";
import { activeOverrides, checkConfigFile, loadConfig } from "../../firmware/config/load.js";
import { configCheckCommand } from "../../bin/commands/gateway/config-check.js";
import { provisioningState } from "../../firmware/config/provisioned.js";
import { GATEWAY_NODE_FLAGS } from "../../firmware/runtime/gateway.js";
import { opcuaPkiDir } from "../../hal/opcua/index.js";

const examples = join(repoRoot(), "config", "examples");
const bad = join(repoRoot(), "test", "config", "bad");
const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
};

void test("every example config validates", () => {
  const files = readdirSync(examples).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const res = checkConfigFile(join(examples, f));
    assert.deepEqual(res.problems, [], f);
    assert.equal(res.ok, true);
  }
});

void test("the demo config has 3 assets × 4 signals mapped to points", () => {
  const { config } = loadConfig(join(examples, "sim-plant.yaml"));
  const src = config.sources[0];
  assert.ok(src?.kind === "sim", "the demo plant is simulated");
  assert.deepEqual(src.assets.map((a) => a.kind).sort(), ["compressor", "motor", "pump"]);
  assert.equal(config.points.length, 12);
  assert.deepEqual(new Set(src.faults.map((f) => f.kind)), new Set(["drift", "spike", "stuck", "dropout"]));
});

void test("defaults are filled in and relative paths resolve against the file's directory", () => {
  const file = join(examples, "minimal.json");
  const { config, digest } = loadConfig(file);
  assert.equal(digest, createHash("sha256").update(readFileSync(file)).digest("hex"));
  assert.equal(config.uplink.window, 256);
  assert.equal(config.audit.checkpointEveryEntries, 100);
  assert.equal(config.transforms[0]?.scale, 1);
  assert.equal(config.points[0]?.calibrationId, null);
  assert.ok(isAbsolute(config.gateway.stateDir));
  assert.equal(config.gateway.stateDir, join(examples, "state", "minimal"));
  assert.equal(config.identity.keyDir, join(examples, "state", "minimal", "keys"));
});

for (const f of readdirSync(bad).filter((n) => n.endsWith(".yaml"))) {
  void test(`bad config ${f} is refused with the expected path`, () => {
    const file = join(bad, f);
    const expects = readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("# expect: ")).map((l) => l.slice(10));
    assert.ok(expects.length > 0, "each bad file states what it expects");
    const res = checkConfigFile(file);
    assert.equal(res.ok, false);
    for (const e of expects) assert.ok(res.problems.some((p) => p.includes(e)), `expected "${e}" in:\n${res.problems.join("\n")}`);
    assert.throws(() => loadConfig(file), ConfigError);
  });
}

void test("several mistakes in one file are all reported at once", () => {
  const res = checkConfigFile(join(bad, "many-mistakes.yaml"));
  assert.ok(res.problems.length >= 4, res.problems.join("\n"));
  assert.ok(res.problems.every((p) => /^\/\S*: /.test(p)), "every problem is `path: message`");
  assert.ok(res.problems.some((p) => / \(line \d+\)$/.test(p)), "YAML problems carry a line number");
});

void test("production refuses software keys unless overridden with a reason, which is reported for audit", () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-cfg-"));
  const src = readFileSync(join(bad, "production-software-key.yaml"), "utf8");
  const refused = checkConfigFile(join(bad, "production-software-key.yaml"));
  assert.ok(refused.problems.some((p) => p.includes("overrides: { allowSoftwareKeys")), "the message says how to fix it");
  const file = join(dir, "gw.yaml");
  writeFileSync(file, src.replace("points:", 'overrides: { allowSoftwareKeys: { reason: "bench rig without TPM" } }\npoints:'));
  const { config } = loadConfig(file);
  assert.deepEqual(activeOverrides(config), [{ name: "allowSoftwareKeys", reason: "bench rig without TPM" }]);
});

void test("configCheckCommand: exit 0 with the digest, exit 1 with every problem on stderr", () => {
  const ok = capture();
  assert.equal(configCheckCommand(join(examples, "sim-plant.yaml"), ok.io), 0);
  assert.match(ok.out[0] ?? "", /^OK .*sim-plant\.yaml \(digest sha256:[0-9a-f]{64}\)$/);
  const ko = capture();
  assert.equal(configCheckCommand(join(bad, "many-mistakes.yaml"), ko.io), 1);
  assert.equal(ok.err.length, 0);
  assert.ok(ko.err.length >= 5);
  const missing = capture();
  assert.equal(configCheckCommand(join(bad, "does-not-exist.yaml"), missing.io), 1);
  assert.match(missing.err.join("\n"), /cannot read the file/);
});

void test("JSON configs report problems too, and unsupported extensions are refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-cfg-"));
  const cfg = JSON.parse(readFileSync(join(examples, "minimal.json"), "utf8")) as { points: { stream: string }[] };
  cfg.points[0]!.stream = "telemetri";
  writeFileSync(join(dir, "gw.json"), JSON.stringify(cfg));
  const res = checkConfigFile(join(dir, "gw.json"));
  assert.ok(res.problems.some((p) => p.startsWith('/points/0/stream: unknown stream "telemetri"; streams are: telemetry')), res.problems.join("\n"));
  writeFileSync(join(dir, "gw.toml"), "x");
  assert.match(checkConfigFile(join(dir, "gw.toml")).problems[0] ?? "", /unsupported file extension/);
});

/** A valid YAML config of about `bytes` bytes: a simulated plant with as many pumps and points as it takes. */
function bigConfig(bytes: number): string {
  const head = [
    "version: 1",
    "gateway: { id: gw-big, mode: development, stateDir: ./state }",
    "identity: { keystore: software, certFile: ./state/gw.pem, caFile: ./state/ca.pem }",
    "receiver: { publicKeyFile: ./state/receiver.pub.pem }",
    'uplink: { url: "mqtts://127.0.0.1:8883", caFile: ./state/broker-ca.pem }',
    "streams: [{ id: telemetry, priority: 2, valueSchema: { type: number } }]",
    "transforms: [{ id: raw-v1, unit: mm/s }]",
  ].join("\n");
  const assets: string[] = [];
  const points: string[] = [];
  let size = head.length + 100;
  for (let i = 0; size < bytes; i++) {
    const a = `      - { id: pump${i}, kind: pump }`;
    const p = `  - { name: p${i}, source: plant, address: pump${i}/vibration_rms, stream: telemetry, transform: raw-v1, deviceId: SN-${i} }`;
    assets.push(a);
    points.push(p);
    size += a.length + p.length + 2;
  }
  return `${head}\nsources:\n  - id: plant\n    kind: sim\n    seed: 1\n    assets:\n${assets.join("\n")}\npoints:\n${points.join("\n")}\n`;
}

void test("a config over the 256 KiB cap is refused before it is read, with one line naming the size and the cap", () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-cfg-"));
  const file = join(dir, "big.yaml");
  writeFileSync(file, bigConfig(256 * 1024 + 1));
  const res = checkConfigFile(file);
  assert.equal(res.ok, false);
  assert.equal(res.digest, null, "an oversized file is not even hashed");
  assert.equal(res.problems.length, 1, res.problems.join("\n"));
  assert.match(res.problems[0] ?? "", /^\/: the config is 256\.\d KiB, over its 256 KiB limit, so it was not read; check that this is the right file/);
  assert.throws(() => loadConfig(file), ConfigError);
  const state = provisioningState(file);
  assert.ok(state.state === "invalid" && state.problems.length === 1 && /over its 256 KiB limit/.test(state.problems[0] ?? ""), JSON.stringify(state));
  // Just under the cap still loads: the cap is on size, not on what the file says.
  writeFileSync(file, bigConfig(256 * 1024 - 200));
  assert.deepEqual(checkConfigFile(file).problems, []);
});

void test("`otgw config check` under the gateway's heap flags refuses a 4 MB config in one line instead of running out of memory", () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-cfg-"));
  const file = join(dir, "huge.yaml");
  writeFileSync(file, bigConfig(4 * 1024 * 1024));
  const r = spawnSync(process.execPath, [...GATEWAY_NODE_FLAGS, join(repoRoot(), "dist", "bin", "otgw.js"), "config", "check", file], { encoding: "utf8" });
  assert.equal(r.status, 1, `exit ${String(r.status)} (signal ${String(r.signal)}); stderr:\n${r.stderr.slice(0, 2000)}`);
  assert.deepEqual(r.stderr.trim().split("\n"), [`${file}: 1 problem(s):`, `  /: the config is 4.0 MiB, over its 256 KiB limit, so it was not read; check that this is the right file (docs/config.md "Size limits")`]);
});

void test("relative OPC UA pkiDir, passwordFile, certFile and keyFile resolve against the config file's directory, not the working directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-cfg-"));
  assert.notEqual(process.cwd(), dir);
  const cfg = JSON.parse(readFileSync(join(examples, "minimal.json"), "utf8")) as Record<string, unknown> & { sources: unknown[]; points: unknown[] };
  const opcua = (id: string, user: Record<string, string>, pkiDir?: string) => ({
    id, kind: "opcua", endpointUrl: "opc.tcp://127.0.0.1:4840", ...(pkiDir ? { pkiDir } : {}), user, items: [{ nodeId: "ns=2;s=X" }],
  });
  cfg.sources = [
    opcua("a", { type: "username", username: "op", passwordFile: "secrets/opcua.pass" }, "pki/opcua"),
    opcua("b", { type: "certificate", certFile: "./pki/user.crt", keyFile: "../shared/user.key" }),
    opcua("c", { type: "certificate", certFile: "/etc/otgw/user.crt", keyFile: "/etc/otgw/user.key" }, "/var/lib/otgw/pki"),
  ];
  cfg.points = [{ name: "x", source: "a", address: "ns=2;s=X", stream: "telemetry", transform: "vib-mm-s-v1", deviceId: "SN-1" }];
  const file = join(dir, "gw.json");
  writeFileSync(file, JSON.stringify(cfg));
  const { config } = loadConfig(file);
  const [a, b, c] = config.sources;
  assert.ok(a?.kind === "opcua" && b?.kind === "opcua" && c?.kind === "opcua");
  assert.equal(a.pkiDir, join(dir, "pki", "opcua"));
  assert.deepEqual(a.user, { type: "username", username: "op", passwordFile: join(dir, "secrets", "opcua.pass") });
  assert.equal(b.pkiDir, undefined, "the default (<stateDir>/pki/opcua) stays the default");
  assert.deepEqual(b.user, { type: "certificate", certFile: join(dir, "pki", "user.crt"), keyFile: join(dir, "..", "shared", "user.key") });
  assert.equal(c.pkiDir, "/var/lib/otgw/pki");
  assert.deepEqual(c.user, { type: "certificate", certFile: "/etc/otgw/user.crt", keyFile: "/etc/otgw/user.key" });
  assert.equal(opcuaPkiDir(b, config), join(config.gateway.stateDir, "pki", "opcua"));
});

void test("`otgw config check` names the overlapping Modbus mapping and the float32 past register 65535", () => {
  const overlap = capture();
  assert.equal(configCheckCommand(join(bad, "modbus-overlap.yaml"), overlap.io), 1);
  assert.ok(overlap.err.some((l) => l.includes("/sources/0/devices/0/registers/1/register: hr/101–101 (int16) overlaps hr/100–101 (float32) at registers/0")), overlap.err.join("\n"));
  // hr/102 float32 only touches hr/100 float32 (100–101 then 102–103): touching is fine.
  assert.ok(!overlap.err.some((l) => l.includes("registers/4/")), overlap.err.join("\n"));
  const past = capture();
  assert.equal(configCheckCommand(join(bad, "modbus-past-last-register.yaml"), past.io), 1);
  assert.ok(past.err.some((l) => /registers\/0\/register: a float32 at hr\/65535 needs registers 65535–65536, past the last address 65535.* \(line \d+\)$/.test(l)), past.err.join("\n"));
  assert.ok(!past.err.some((l) => l.includes("registers/1/")), "a uint16 at 65534 is fine");
});
