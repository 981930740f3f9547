#!/usr/bin/env node
/**
 * `otgw`: the one CLI for integrators, technicians and testers. This file only registers the command
 * groups (listed in group-list.ts); each registers itself (bin/groups/) and loads its work lazily, so `otgw --version`,
 * `otgw --help` and `otgw config check` do not pull in MQTT, SQLite, node-opcua or the fleet CA.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { repoRoot } from "../kernel/paths.js";
import { reportError } from "./output.js";
import { GROUPS } from "./group-list.js";
import { registerGroups } from "./registry.js";

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
