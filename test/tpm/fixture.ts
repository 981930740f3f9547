import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSwtpm, type RunningSwtpm } from "../../provisioning/tpm/swtpm.js";
import { startTabrmd, type RunningTabrmd } from "../../provisioning/tpm/tabrmd.js";

/** An swtpm behind tpm2-abrmd (like /dev/tpmrm0: many clients), in a temp dir. */
export interface TpmFixture {
  dir: string;
  swtpm: RunningSwtpm;
  rm: RunningTabrmd;
  /** TCTI through the resource manager. */
  tcti: string;
  stop(): Promise<void>;
}

/** Starts swtpm (+ EK certificates from the local CA in `ekCaDir`, when given) and tpm2-abrmd. */
export async function startTpmFixture(opts: { ekCaDir?: string; dir?: string } = {}): Promise<TpmFixture> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "otgw-tpm-"));
  const swtpm = await startSwtpm(join(dir, "tpm"), opts.ekCaDir ? { ekCaDir: opts.ekCaDir } : {});
  const rm = await startTabrmd(join(dir, "rm"), swtpm.tcti);
  return {
    dir, swtpm, rm, tcti: rm.tcti,
    async stop() {
      await rm.stop();
      await swtpm.stop();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { scriptArgs } from "../../kernel/child-script.js";

/** Runs a Node child; resolves with exit code and output. */
export function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    c.once("exit", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The last JSON line a child printed. */
export function lastJson<T>(stdout: string): T {
  const line = stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`child printed no JSON: ${stdout}`);
  return JSON.parse(line) as T;
}
