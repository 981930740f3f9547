import { checkConfigFile } from "./load.js";

/** Where a CLI command writes; injectable so tests can capture output. */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const processIo: CommandIo = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
};

/**
 * `otgw config check FILE`: prints `OK <file> (digest sha256:…)` to stdout, or every problem to stderr.
 * Returns the exit code: 0 valid, 1 invalid (or unreadable).
 */
export function configCheckCommand(file: string, io: CommandIo = processIo): number {
  const res = checkConfigFile(file);
  if (res.ok) {
    io.out(`OK ${file} (digest sha256:${res.digest ?? "?"})`);
    return 0;
  }
  io.err(`${file}: ${res.problems.length} problem(s):`);
  for (const p of res.problems) io.err(`  ${p}`);
  return 1;
}
