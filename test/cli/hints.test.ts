/**
 * Every `otgw …` command that a message, hint, comment or doc of the code base tells someone to run exists:
 * the command words are checked against the CLI built from the real group list (bin/group-list.ts),
 * and the `--options` named after them against that command's options.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { Command } from "commander";
import { GROUPS } from "../../bin/group-list.js";
import { registerGroups } from "../../bin/registry.js";
import { repoRoot } from "../../kernel/paths.js";

// dist/test/cli/ → dist/bin/, where the group modules are.
const base = new URL("../../bin/", import.meta.url);

async function fullCli(): Promise<Command> {
  const program = new Command().name("otgw").exitOverride();
  await registerGroups(program, GROUPS, { base, io: { out: () => undefined, err: () => undefined } });
  return program;
}

/** `otgw <words>` as written in the sources and docs/: in backticks, or after "run"/"run:" in a plain string. */
function mentions(): { where: string; text: string }[] {
  const root = repoRoot();
  const out: { where: string; text: string }[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(".ts") || n.endsWith(".md")) {
        readFileSync(p, "utf8").split("\n").forEach((line, i) => {
          for (const m of line.matchAll(/\\?`otgw ([^`\\]*)|\brun:? otgw ([^"'`\\]*)/g)) {
            out.push({ where: `${relative(root, p)}:${i + 1}`, text: (m[1] ?? m[2] ?? "").split("${")[0] ?? "" });
          }
        });
      }
    }
  };
  for (const d of ["kernel", "envelope", "hal", "firmware", "provisioning", "fleet", "ingest", "devkit", "bin", "docs"]) walk(join(root, d));
  return out;
}

const longOptions = (c: Command): string[] => [...c.options.map((o) => o.long ?? ""), ...c.commands.flatMap(longOptions)];

/** Why `otgw <text>` is not a command of `program`, or null when it is. */
function whyNot(program: Command, text: string): string | null {
  // "show | renew | rotate" names alternatives at one level.
  const tokens = text.replace(/\s*\|\s*/g, "|").trim().split(/\s+/).filter((t) => t !== "");
  let cmd = program;
  let depth = 0;
  for (const raw of tokens) {
    const token = raw.replace(/[:,.;)]+$/, "");
    if (token.startsWith("--")) {
      const name = token.split("=")[0] ?? token;
      if (depth > 0 && !longOptions(cmd).includes(name)) return `${cmd.name()} has no option ${name}`;
      continue;
    }
    // An argument placeholder (<group>, FILE, ID), a value or prose: the command words are over.
    if (!/^[a-z][a-z-]*(\|[a-z][a-z-]*)*$/.test(token)) break;
    const subs = cmd.commands.filter((c) => c.name() !== "help");
    // A command without subcommands takes arguments from here on.
    if (depth > 0 && subs.length === 0) break;
    const alternatives = token.split("|");
    const found = alternatives.map((a) => subs.find((c) => c.name() === a));
    const missing = alternatives.filter((_, k) => found[k] === undefined);
    if (missing.length > 0) return `"${missing.join(", ")}" is not a command of \`otgw${depth === 0 ? "" : ` ${cmd.name()}`}\` (it has: ${subs.map((c) => c.name()).join(", ")})`;
    depth++;
    // "otgw egress: warning": a colon ends the command; alternatives cannot be followed further.
    if (raw !== token || found.length !== 1) break;
    cmd = found[0] ?? cmd;
  }
  return null;
}

void test("the checker itself: existing commands pass, invented ones and unknown options are caught", async () => {
  const program = await fullCli();
  assert.equal(whyNot(program, "identity renew"), null);
  assert.equal(whyNot(program, "identity show | renew | rotate"), null);
  assert.equal(whyNot(program, "trust opcua trust <thumbprint> --config FILE"), null);
  assert.equal(whyNot(program, "model sign"), null);
  assert.match(whyNot(program, "identity create") ?? "", /"create" is not a command of `otgw identity`/);
  assert.match(whyNot(program, "ingest stats") ?? "", /"stats" is not a command of `otgw ingest`/);
  assert.match(whyNot(program, "config check --fix") ?? "", /no option --fix/);
  assert.match(whyNot(program, "keys create") ?? "", /"keys" is not a command of `otgw`/);
  assert.equal(whyNot(program, "run|check|identity"), null);
  assert.match(whyNot(program, "run|identity|keys") ?? "", /"keys" is not a command of `otgw`/);
});

void test("every `otgw …` command named in a message, hint, comment or doc exists in the CLI", async () => {
  const program = await fullCli();
  const found = mentions();
  assert.ok(found.length >= 50, `the scan finds the hints (found ${found.length})`);
  const wrong = found.flatMap(({ where, text }) => {
    const why = whyNot(program, text);
    return why === null ? [] : [`${where}: \`otgw ${text.trim()}\`: ${why}`];
  });
  assert.deepEqual(wrong, []);
});
