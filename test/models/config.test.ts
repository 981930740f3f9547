import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { repoRoot } from "../../kernel/paths.js";
import { loadConfig } from "../../firmware/config/load.js";
import { ConfigError } from "../../kernel/errors.js";

function withModels(models: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "otgw-models-cfg-"));
  const cfg = parseYaml(readFileSync(join(repoRoot(), "config", "examples", "sim-plant.yaml"), "utf8")) as Record<string, unknown>;
  cfg.models = models;
  const file = join(dir, "gw.yaml");
  writeFileSync(file, stringify(cfg));
  return file;
}

void test("models section: defaults and paths resolved like the rest of the config", () => {
  const file = withModels({ trustedSigners: [{ name: "registry", publicKeyFile: "keys/registry.pub.pem" }], allowRollback: { reason: "rollback drill OPS-7" } });
  const { config } = loadConfig(file);
  const m = config.models;
  assert.ok(m);
  assert.equal(m.priority, 0);
  assert.equal(m.dir, join(config.gateway.stateDir, "models"));
  assert.equal(m.trustedSigners[0]?.publicKeyFile, join(file, "..", "keys", "registry.pub.pem"));
  assert.equal(m.allowRollback?.reason, "rollback drill OPS-7");
});

void test("models section: no trusted signer, or a rollback without a reason, is a config error", () => {
  assert.throws(() => loadConfig(withModels({ trustedSigners: [] })), ConfigError);
  assert.throws(() => loadConfig(withModels({ trustedSigners: [{ name: "r", publicKeyFile: "k.pem" }], allowRollback: {} })), ConfigError);
});
