import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { DevkitError } from "../kernel/errors.js";

/**
 * DEVELOPMENT AND TESTS ONLY (needs root): a network namespace joined to this one by a veth pair in a
 * private /30 of 10.213.0.0/16, for link faults where this kernel has no `netem`: nftables rules inside
 * the namespace drop everything (a partition), a random share of packets (`numgen random mod 100 < N
 * drop`), or nothing (healed). A process started with `exec` lives in the namespace and reaches this
 * side only through the veth; nothing leaves the machine.
 *
 * Missing `ip` or `nft` is an error (DEVKIT_TOOL_MISSING), never a skip: a fault test that cannot make
 * its fault must fail. `destroy()` deletes the namespace, which deletes the veth pair with it; the
 * namespaces of this process are also deleted when it exits.
 */
export interface NetNs {
  /** Namespace name (`ip netns exec <name> …`). */
  readonly name: string;
  /** Address of this (the host's) side of the veth pair. */
  readonly hostAddr: string;
  /** Address of the namespace's side. */
  readonly nsAddr: string;
  /** Starts `cmd args` inside the namespace. */
  exec(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Drops every packet on the namespace's veth, both directions (TCP sees silence, not a reset). */
  partition(): void;
  /**
   * Like `partition`, but TCP segments are answered with a reset (the namespace's own sockets and the
   * peer's): a link outage that also tears the connections down, as a rebooting middlebox does.
   */
  reset(): void;
  /** Drops `percent` % of the packets on the namespace's veth, at random, each direction. */
  loss(percent: number): void;
  /** Removes every fault rule. */
  heal(): void;
  /** The namespace's fault rules as nft lists them (diagnostics). */
  rules(): string;
  /** Deletes the namespace (and with it the veth pair and the rules). Idempotent. */
  destroy(): void;
}

const TABLE = "otgw_fault";
const live = new Set<string>();
let exitHook = false;

function run(cmd: string, args: string[], what: string, input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], ...(input !== undefined ? { input } : {}) });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") {
      const pkg = cmd === "nft" ? "nftables" : "iproute2";
      throw new DevkitError("DEVKIT_TOOL_MISSING", `${cmd} is missing: install Debian package ${pkg} (fault tests need it; they do not skip)`);
    }
    throw new DevkitError("DEVKIT_NETNS", `${what} failed (${cmd} ${args.join(" ")}): ${(e.stderr ?? e.message).trim().split("\n")[0] ?? ""} — fault tests need root (ip netns, nftables)`);
  }
}

function removeNs(name: string): void {
  try { execFileSync("ip", ["netns", "del", name], { stdio: "ignore" }); } catch { /* already gone */ }
  live.delete(name);
}

/** Creates namespace `otgw<pid>-<tag>` with a veth pair in the first free 10.213.x.y/30. */
export function createNetns(tag: string): NetNs {
  if (!/^[a-z0-9]{1,4}$/.test(tag)) throw new DevkitError("DEVKIT_NETNS", `netns tag "${tag}": 1–4 lowercase letters or digits (interface names are at most 15 characters)`);
  run("nft", ["--version"], "nft --version");
  const name = `otgw${process.pid}-${tag}`;
  const hostIf = `oh${process.pid % 100000}${tag}`;
  const nsIf = `on${process.pid % 100000}${tag}`;
  const used = run("ip", ["-4", "-o", "addr", "show"], "listing addresses");
  let hostAddr = "";
  let nsAddr = "";
  for (let i = (process.pid * 4) % 16384; !hostAddr; i = (i + 4) % 16384) {
    const base = `10.213.${Math.floor(i / 256) % 256}.`;
    const h = `${base}${(i % 256) + 1}`;
    if (!used.includes(` ${h}/`)) { hostAddr = h; nsAddr = `${base}${(i % 256) + 2}`; }
  }
  removeNs(name); // a leftover of a crashed run with the same pid
  run("ip", ["netns", "add", name], "creating the network namespace");
  live.add(name);
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => { for (const n of [...live]) removeNs(n); });
  }
  try {
    run("ip", ["link", "add", hostIf, "type", "veth", "peer", "name", nsIf, "netns", name], "creating the veth pair");
    run("ip", ["addr", "add", `${hostAddr}/30`, "dev", hostIf], "addressing the host side");
    run("ip", ["link", "set", hostIf, "up"], "raising the host side");
    run("ip", ["-n", name, "addr", "add", `${nsAddr}/30`, "dev", nsIf], "addressing the namespace side");
    run("ip", ["-n", name, "link", "set", nsIf, "up"], "raising the namespace side");
    run("ip", ["-n", name, "link", "set", "lo", "up"], "raising the namespace's loopback");
    nft(name, `table inet ${TABLE} {\n chain in { type filter hook input priority 0; policy accept; }\n chain out { type filter hook output priority 0; policy accept; }\n}\n`);
  } catch (err) {
    removeNs(name);
    throw err;
  }

  /** Replaces the fault rules by `matches`, each applied in both directions on the namespace's veth. */
  const rulesFor = (...matches: string[]): string =>
    `flush chain inet ${TABLE} in\nflush chain inet ${TABLE} out\n` +
    matches.map((m) => `add rule inet ${TABLE} in iifname "${nsIf}" ${m}\nadd rule inet ${TABLE} out oifname "${nsIf}" ${m}\n`).join("");
  return {
    name, hostAddr, nsAddr,
    exec: (cmd, args, opts = {}) => spawn("ip", ["netns", "exec", name, cmd, ...args], opts),
    partition: () => nft(name, rulesFor("drop")),
    reset: () => nft(name, rulesFor("meta l4proto tcp reject with tcp reset", "drop")),
    loss: (percent) => {
      if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new DevkitError("DEVKIT_NETNS", `loss percent must be an integer 0..100, got ${percent}`);
      nft(name, rulesFor(`numgen random mod 100 < ${percent} drop`));
    },
    heal: () => nft(name, rulesFor()),
    rules: () => run("ip", ["netns", "exec", name, "nft", "list", "table", "inet", TABLE], "listing the fault rules"),
    destroy: () => removeNs(name),
  };
}

function nft(ns: string, script: string): void {
  run("ip", ["netns", "exec", ns, "nft", "-f", "-"], "applying nft rules", script);
}
