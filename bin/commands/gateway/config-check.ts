import { checkConfigFile } from "../../../firmware/config/load.js";
import { stdio, type Io } from "../../output.js";

/**
 * `otgw config check FILE`: prints `OK <file> (digest sha256:…)` to stdout, or every problem to stderr.
 * Returns the exit code: 0 valid, 1 invalid (or unreadable).
 */
export function configCheckCommand(file: string, io: Io = stdio): number {
  const res = checkConfigFile(file);
  if (res.ok) {
    io.out(`OK ${file} (digest sha256:${res.digest ?? "?"})`);
    return 0;
  }
  io.err(`${file}: ${res.problems.length} problem(s):`);
  for (const p of res.problems) io.err(`  ${p}`);
  return 1;
}
