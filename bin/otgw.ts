#!/usr/bin/env node
/**
 * `otgw`: the one CLI for integrators, technicians and testers. This file only lists the command
 * groups; each registers itself (bin/groups/) and loads its work lazily, so `otgw --version`,
 * `otgw --help` and `otgw config check` do not pull in MQTT, SQLite, node-opcua or the fleet CA.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { repoRoot } from "../kernel/paths.js";
import { reportError } from "./output.js";
import { registerGroups, type GroupEntry } from "./registry.js";

/**
 * Every group, tagged with where it runs. Gateway groups (shipped on the gateway image): run, service,
 * check, config, provision, identity, trust, audit, egress, and model verify/install/list. Fleet: ca and
 * model keygen/train/sign (the model registry's side). Receiver: ingest, receiver. Dev: demo, dev up. `needs`
 * names the folders outside the gateway's that a group's commands load (bin/registry.ts).
 */
const GROUPS: readonly GroupEntry[] = [
  { name: "run", deployable: "gateway", module: "./groups/gateway/run.js" },
  { name: "service", deployable: "gateway", module: "./groups/gateway/service.js" },
  { name: "check", deployable: "gateway", module: "./groups/gateway/check.js" },
  { name: "config", deployable: "gateway", module: "./groups/gateway/config.js" },
  { name: "provision", deployable: "gateway", module: "./groups/gateway/provision.js" },
  { name: "identity", deployable: "gateway", module: "./groups/gateway/identity.js" },
  { name: "trust", deployable: "gateway", module: "./groups/gateway/trust.js" },
  { name: "audit", deployable: "gateway", module: "./groups/gateway/audit.js" },
  { name: "egress", deployable: "gateway", module: "./groups/gateway/egress.js" },
  { name: "model", subcommands: ["verify", "install", "list"], deployable: "gateway", module: "./groups/gateway/model.js" },
  { name: "ca", deployable: "fleet", module: "./groups/fleet/ca.js", needs: ["fleet"] },
  { name: "model", subcommands: ["keygen", "train", "sign"], deployable: "fleet", module: "./groups/fleet/model-fleet.js", needs: ["fleet"] },
  { name: "ingest", deployable: "receiver", module: "./groups/receiver/ingest.js", needs: ["ingest", "envelope/verify"] },
  { name: "receiver", deployable: "receiver", module: "./groups/receiver/receiver.js", needs: ["ingest"] },
  { name: "demo", deployable: "dev", module: "./groups/dev/demo.js", needs: ["devkit", "fleet", "ingest", "envelope/verify"] },
  { name: "dev", deployable: "dev", module: "./groups/dev/dev.js", needs: ["devkit", "fleet", "ingest", "envelope/verify"] },
];

/** The installed package's version (package.json sits at the installation's root, above dist/). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { version?: unknown };
  return typeof pkg.version === "string" ? pkg.version : "unknown";
}

const program = new Command();
program.name("otgw").description("Secure OT-to-cloud edge gateway").version(packageVersion()).showHelpAfterError();
// Program options only before the command word: otherwise `otgw model train --version 2` would print
// the CLI's version instead of setting the model's.
program.enablePositionalOptions();

try {
  await registerGroups(program, GROUPS);
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
}
