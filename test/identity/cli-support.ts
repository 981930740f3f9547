import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";

/** The otgw CLI as this test runs: from source through tsx, or compiled from dist/. */
export function cliArgs(from: string): string[] {
  const root = repoRoot();
  return from.endsWith(".ts") ? ["--import", "tsx", join(root, "bin", "otgw.ts")] : [join(root, "dist", "bin", "otgw.js")];
}

/** Runs `otgw ...args` to completion. */
export function otgw(from: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [...cliArgs(from), ...args], { env, stdio: ["ignore", "pipe", "pipe"], cwd: repoRoot() });
    let out = "";
    c.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    c.stderr.on("data", (d: Buffer) => { out += d.toString(); });
    c.once("exit", (code) => resolve({ code: code ?? 1, out }));
  });
}

/** A long-running `otgw ...` (serve, run), with its output so far and a clean stop. */
export interface Background { proc: ChildProcess; output(): string; stop(): Promise<number> }

export function otgwBackground(from: string, args: string[], env: NodeJS.ProcessEnv = process.env): Background {
  const proc = spawn(process.execPath, [...cliArgs(from), ...args], { env, stdio: ["ignore", "pipe", "pipe"], cwd: repoRoot() });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => { out += d.toString(); });
  proc.stderr?.on("data", (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number>((r) => proc.once("exit", (code) => r(code ?? 1)));
  process.once("exit", () => proc.kill("SIGKILL"));
  return {
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Polls `cond` every 100 ms until true or `what` times out (a diagnostic, not a timing assertion). */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
