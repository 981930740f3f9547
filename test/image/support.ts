import { spawn } from "node:child_process";
import { closeSync, createWriteStream, openSync, readFileSync, readSync } from "node:fs";
import { createHash } from "node:crypto";

/** Runs a command to completion with its output appended to `logFile`; rejects naming the log on failure. */
export function runLogged(cmd: string, args: string[], logFile: string, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logFile, { flags: "a" });
    const c = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    c.stdout.pipe(log, { end: false });
    c.stderr.pipe(log, { end: false });
    c.once("error", (err) => { log.end(); reject(err); });
    c.once("exit", (code, signal) => {
      log.end(() => {
        if (code === 0) resolve();
        else {
          const tail = readFileSync(logFile, "utf8").split("\n").slice(-40).join("\n");
          reject(new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}; log ${logFile}, its end:\n${tail}`));
        }
      });
    });
  });
}

/** sha256 of a file, hex. */
export function sha256File(file: string): string {
  // In 8 MiB pieces: an A/B image is larger than the 2 GiB a single read may return.
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(8 << 20);
  const fd = openSync(file, "r");
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** `name=value` lines (the build's summary file) as a map. */
export function readSummary(file: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}
