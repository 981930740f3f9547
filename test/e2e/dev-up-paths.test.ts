import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parse as parseYaml, stringify } from "yaml";
import { repoRoot } from "../../kernel/paths.js";
import { newStack } from "./harness.js";

/**
 * `otgw dev up -c FILE` runs a config derived from the user's file inside a throwaway stack directory.
 * The user's relative paths (OPC UA trust store and credentials) must keep meaning what they meant
 * next to the user's file (docs/config.md: relative paths resolve against the config file).
 */
void test("dev stack: an example's relative OPC UA paths resolve against the example's directory, not the stack's", async () => {
  const userDir = mkdtempSync(join(tmpdir(), "otgw-user-cfg-"));
  const cfg = parseYaml(readFileSync(join(repoRoot(), "config", "examples", "plant-mixed.yaml"), "utf8")) as { sources: Array<Record<string, unknown>> };
  const opcua = cfg.sources.find((s) => s.kind === "opcua");
  assert.ok(opcua, "the example has an OPC UA source");
  opcua.pkiDir = "my-pki";
  opcua.user = { type: "username", username: "operator", passwordFile: "secrets/opcua.pass" };
  const userFile = join(userDir, "plant.yaml");
  writeFileSync(userFile, stringify(cfg));
  const stack = await newStack();
  try {
    const gw = await stack.addGateway("gw-paths", userFile);
    const src = gw.config.sources.find((s) => s.kind === "opcua");
    assert.ok(src && src.kind === "opcua");
    assert.equal(src.pkiDir, join(userDir, "my-pki"));
    assert.ok(src.user.type === "username");
    assert.equal(src.user.passwordFile, join(userDir, "secrets", "opcua.pass"));
  } finally {
    await stack.stop();
  }
});
