import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";
import { ConfigError } from "../../kernel/errors.js";
import { activeOverrides, checkConfigFile, loadConfig } from "../../firmware/config/load.js";
import { configCheckCommand } from "../../bin/commands/gateway/config-check.js";

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
