import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Runs a sibling bench script in its own Node process (so its peak RSS is its own) and returns the
 * JSON it prints as its last stdout line. Works from source (tsx) and from dist/ alike.
 */
export function runChild<T>(name: string, args: string[], nodeFlags: readonly string[] = []): Promise<T> {
  const here = import.meta.url;
  const ts = here.endsWith(".ts");
  const script = fileURLToPath(new URL(`./${name}.${ts ? "ts" : "js"}`, here));
  const argv = [...nodeFlags, ...(ts ? ["--import", "tsx"] : []), script, ...args];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    p.stderr.on("data", (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    p.once("error", reject);
    p.once("exit", (code) => {
      const last = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0) return reject(new Error(`bench child ${name} exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`bench child ${name} printed no result: ${err}`));
      }
    });
  });
}
