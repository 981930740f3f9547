import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, readdirSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";

/** The image/ directory of this checkout. */
export const imageDir = (): string => join(repoRoot(), "image");

/**
 * Fails loudly when a tool the image tests need is missing (project rule: never skip). The package
 * names are those scripts/setup.sh installs.
 */
export function requireTool(cmd: string, debPackage: string): void {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} is missing: install the Debian package ${debPackage} (bash scripts/setup.sh does)`);
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs a command to completion, capturing output (never throws on a non-zero exit). */
export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
    p.stdin?.on("error", () => undefined); // a command that exits without reading its input
    p.stdin?.end(opts.input);
  });
}

/** `node dist/bin/otgw.js ARGS`. */
export const otgwCli = (): string => join(repoRoot(), "dist", "bin", "otgw.js");

/**
 * A minimal target root for `systemd-analyze --root`: our units, sysusers/tmpfiles and overlay
 * installed where image-build puts them, systemd's own targets from the host, and stand-ins for the
 * executables the units name (verify only checks that they exist and are executable; the real ones
 * are proven by the image boot test).
 */
export function unitRoot(dir: string, unitFiles: Record<string, string> = {}): string {
  const units = join(dir, "usr/lib/systemd/system");
  mkdirSync(units, { recursive: true });
  for (const f of readdirSync("/usr/lib/systemd/system")) {
    if (f.endsWith(".target")) copyFileSync(join("/usr/lib/systemd/system", f), join(units, f));
  }
  for (const f of readdirSync(join(imageDir(), "units"))) copyFileSync(join(imageDir(), "units", f), join(units, f));
  for (const [name, text] of Object.entries(unitFiles)) writeFileSync(join(units, name), text);
  cpSync(join(imageDir(), "overlay"), dir, { recursive: true });
  for (const exe of ["usr/bin/node", "bin/sh", "usr/sbin/nft"]) {
    mkdirSync(join(dir, exe, ".."), { recursive: true });
    writeFileSync(join(dir, exe), "#!/bin/false\n");
    chmodSync(join(dir, exe), 0o755);
  }
  return dir;
}
