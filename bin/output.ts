/**
 * How `otgw` commands talk to the terminal: lines or one JSON document on stdout, problems on stderr,
 * and what the exit codes mean. Commands take an `Io` so tests can capture what they print.
 */
import { GatewayError, errorText } from "../kernel/errors.js";

/** Where a command writes; injectable so tests can capture output. */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** The process's stdout and stderr, one line per call. */
export const stdio: Io = {
  out: (line) => void process.stdout.write(line + "\n"),
  err: (line) => void process.stderr.write(line + "\n"),
};

/**
 * Exit codes shared by the commands. Some commands give 3 or 4 their own meaning (a refused model
 * bundle, a trace whose inputs do not match); they say so in their doc comments.
 */
export const EXIT = {
  ok: 0,
  /** The command ran and the answer is no (invalid config, failed check), or it failed. */
  failed: 1,
  /** The command line is wrong, or names a command this installation does not have. */
  usage: 2,
} as const;

/**
 * A command line that cannot be acted on (a bad option value, a missing argument): reported as
 * `otgw: <message>` with exit 2, without a stack or an error code.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Prints `value` as one line of JSON (machine-readable output that CI parses). */
export function printJson(value: unknown, io: Io = stdio): void {
  io.out(JSON.stringify(value));
}

/** `otgw: message`, with `[CODE]` for a GatewayError so scripts and humans can tell failures apart. */
export function errorLine(err: unknown): string {
  if (err instanceof GatewayError) return `otgw: ${err.message} [${err.code}]`;
  if (err instanceof UsageError) return `otgw: ${err.message}`;
  return `otgw: ${errorText(err)}`;
}

/** Reports an error that escaped a command on stderr; returns the exit code it deserves. */
export function reportError(err: unknown, io: Io = stdio): number {
  io.err(errorLine(err));
  return err instanceof UsageError ? EXIT.usage : EXIT.failed;
}
