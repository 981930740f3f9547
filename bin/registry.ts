/**
 * The command groups of `otgw` and how they are found. Each group is a small module under bin/groups/
 * that registers its commands; the commands load their real work with import() only when run, so
 * `otgw --help` loads no group's dependencies. An installation may lack groups (the gateway image
 * ships only the gateway's folders): such a group is not listed, and running it says so in one line.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { EXIT, stdio, type Io } from "./output.js";

/** Where a group's commands are meant to run. */
export type Deployable = "gateway" | "fleet" | "receiver" | "dev";

/** The `otgw --help` section of each deployable. */
const HEADINGS: Record<Deployable, string> = {
  gateway: "Gateway commands:",
  fleet: "Fleet commands:",
  receiver: "Receiver commands:",
  dev: "Development commands:",
};

const WHO: Record<Deployable, string> = { gateway: "a gateway", fleet: "a fleet", receiver: "a receiver", dev: "a development" };

/** What a group module (bin/groups/<group>.ts) exports. */
export interface GroupModule {
  /** Adds the group's commands to `program`. Must not load the commands' dependencies. */
  register(program: Command): void;
}

/** One entry of the CLI's group list. */
export interface GroupEntry {
  /** The command word, e.g. "ca". Two entries may share one to split a group across deployables. */
  name: string;
  /** When the group is split: the subcommands this entry provides (e.g. model keygen, train, sign). */
  subcommands?: readonly string[];
  deployable: Deployable;
  /** The group module, relative to bin/ (e.g. "./groups/fleet/ca.js"). */
  module: string;
  /**
   * Folders of the installation (relative to its root, the parent of bin/) that the group's commands
   * load besides the gateway's own. bin/ ships whole on the gateway image, so a fleet group's module is
   * there while the fleet/ folder its commands import is not.
   */
  needs?: readonly string[];
}

export interface RegistryOptions {
  /** The bin/ directory the entries' paths are relative to (default: this module's). */
  base?: URL;
  /** Where an absent group's one line goes. */
  io?: Io;
}

/** Whether an entry's module and every folder it needs are part of the installation under `base`. */
export function isInstalled(entry: GroupEntry, base: URL): boolean {
  if (!existsSync(fileURLToPath(new URL(entry.module, base)))) return false;
  return (entry.needs ?? []).every((dir) => existsSync(fileURLToPath(new URL(`../${dir}`, base))));
}

function isGroupModule(m: unknown): m is GroupModule {
  return typeof m === "object" && m !== null && typeof (m as { register?: unknown }).register === "function";
}

/** The command words an entry stands for, for messages: "ca", "model keygen". */
function label(entry: GroupEntry, sub?: string): string {
  return sub === undefined ? entry.name : `${entry.name} ${sub}`;
}

/**
 * Registers every installed group on `program`, each under its deployable's help heading, and a hidden
 * stand-in for each absent one that prints `otgw: <group> is not part of this installation (…)` and
 * exits 2, whatever arguments it is given.
 */
export async function registerGroups(program: Command, entries: readonly GroupEntry[], o: RegistryOptions = {}): Promise<void> {
  const base = o.base ?? new URL("./", import.meta.url);
  const io = o.io ?? stdio;
  const absent: GroupEntry[] = [];
  for (const entry of entries) {
    if (!isInstalled(entry, base)) {
      absent.push(entry);
      continue;
    }
    const mod: unknown = await import(new URL(entry.module, base).href);
    if (!isGroupModule(mod)) throw new Error(`${entry.module} does not export register(program)`);
    const before = new Set(program.commands);
    const parent = entry.subcommands !== undefined ? program.commands.find((c) => c.name() === entry.name) : undefined;
    const beforeSub = new Set(parent?.commands ?? []);
    mod.register(program);
    for (const c of program.commands) if (!before.has(c)) c.helpGroup(HEADINGS[entry.deployable]);
    // A split group: its subcommands are sectioned by deployable in `otgw <group> --help`.
    if (entry.subcommands !== undefined) {
      const p = program.commands.find((c) => c.name() === entry.name);
      for (const c of p?.commands ?? []) if (!beforeSub.has(c)) c.helpGroup(HEADINGS[entry.deployable]);
    }
  }
  // After the installed ones, so the installed half of a split group already owns the group's word.
  for (const entry of absent) addStandIn(program, entry, io);
}

function addStandIn(program: Command, entry: GroupEntry, io: Io): void {
  const stub = (parent: Command, name: string, what: string): void => {
    parent
      .command(name, { hidden: true })
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .argument("[args...]")
      .action(() => {
        io.err(`otgw: ${what} is not part of this installation (it is ${WHO[entry.deployable]} command)`);
        process.exitCode = EXIT.usage;
      });
  };
  const existing = program.commands.find((c) => c.name() === entry.name);
  if (entry.subcommands === undefined) {
    if (existing === undefined) stub(program, entry.name, label(entry));
    return;
  }
  const parent = existing ?? program.command(entry.name, { hidden: true });
  for (const sub of entry.subcommands) stub(parent, sub, label(entry, sub));
}
