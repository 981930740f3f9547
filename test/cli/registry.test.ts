import { test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { registerGroups, type GroupEntry } from "../../bin/registry.js";
import type { Io } from "../../bin/output.js";

// dist/test/cli/ → dist/bin/, where the group modules are.
const base = new URL("../../bin/", import.meta.url);

function capture(): Io & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => void lines.push(l), err: (l) => void lines.push(l) };
}

/** A program as otgw.ts builds it, with commander's own exits turned into exceptions. */
function programOf(): Command {
  return new Command().name("otgw").exitOverride().enablePositionalOptions();
}

/** Runs `otgw ...args` on `program`; returns the exit code the command set and restores the test's. */
async function invoke(program: Command, args: string[]): Promise<number | string | undefined> {
  try {
    await program.parseAsync(args, { from: "user" });
    return process.exitCode;
  } finally {
    process.exitCode = 0;
  }
}

void test("an installed group is registered and listed under its deployable's heading", async () => {
  const program = programOf();
  await registerGroups(program, [{ name: "config", deployable: "gateway", module: "./groups/gateway/config.js" }], { base, io: capture() });
  const help = program.helpInformation();
  assert.match(help, /Gateway commands:\n\s+config\s/);
});

void test("a group whose module is missing is not listed; running it prints one line naming it and exits 2", async () => {
  const io = capture();
  const program = programOf();
  const entries: GroupEntry[] = [
    { name: "config", deployable: "gateway", module: "./groups/gateway/config.js" },
    { name: "ghost", deployable: "fleet", module: "./groups/no-such-group.js" },
  ];
  await registerGroups(program, entries, { base, io });
  assert.doesNotMatch(program.helpInformation(), /ghost/);
  // Whatever follows the group word (options of the real group, --help) gets the same answer.
  assert.equal(await invoke(program, ["ghost", "init", "--dir", "/tmp/x", "--help"]), 2);
  assert.deepEqual(io.lines, ["otgw: ghost is not part of this installation (it is a fleet command)"]);
});

void test("a group whose module is installed but whose folders are not is absent too", async () => {
  const io = capture();
  const program = programOf();
  await registerGroups(program, [{ name: "ca", deployable: "fleet", module: "./groups/fleet/ca.js", needs: ["no-such-folder"] }], { base, io });
  assert.doesNotMatch(program.helpInformation(), /\bca\b/);
  assert.equal(await invoke(program, ["ca", "init", "--dir", "/tmp/x"]), 2);
  assert.deepEqual(io.lines, ["otgw: ca is not part of this installation (it is a fleet command)"]);
});

void test("a split group keeps its installed half; the absent half's subcommands say they are not installed", async () => {
  const io = capture();
  const program = programOf();
  await registerGroups(program, [
    { name: "model", subcommands: ["verify", "install", "list"], deployable: "gateway", module: "./groups/gateway/model.js" },
    { name: "model", subcommands: ["keygen", "train", "sign"], deployable: "fleet", module: "./groups/fleet/model-fleet.js", needs: ["no-such-folder"] },
  ], { base, io });
  const model = program.commands.find((c) => c.name() === "model");
  assert.ok(model);
  const help = model.helpInformation();
  assert.match(help, /verify/);
  assert.doesNotMatch(help, /^\s+(keygen|train|sign)\b/m);
  assert.equal(await invoke(program, ["model", "keygen", "--out", "/tmp/x"]), 2);
  assert.deepEqual(io.lines, ["otgw: model keygen is not part of this installation (it is a fleet command)"]);
});
