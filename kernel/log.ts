import { pino, type Logger, type DestinationStream, type LevelWithSilent } from "pino";

/**
 * Paths whose values must never reach a log line, at any level. Payload values are kept out by
 * construction (modules log counts, ids and reasons, never record values); this list is the second
 * line of defence for key material and secrets that might ride along in an object.
 */
export const REDACT_PATHS = [
  "key", "*.key", "privateKey", "*.privateKey", "dataKey", "*.dataKey", "secret", "*.secret",
  "password", "*.password", "token", "*.token", "value", "*.value", "payload", "*.payload",
  "plaintext", "*.plaintext", "record", "*.record",
];

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent;
  /** Where lines go; stderr by default so stdout stays free for machine-readable output. */
  destination?: DestinationStream;
  /** Per-module level overrides, e.g. { uplink: "debug" }. */
  levels?: Record<string, LevelWithSilent>;
}

/** The root logger. Modules take `child(root, "name")`, one per module. */
export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? (process.env.OTGW_LOG_LEVEL as LevelWithSilent | undefined) ?? "info";
  const root = pino(
    { level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: { pid: process.pid } },
    opts.destination ?? pino.destination(2),
  );
  const levels = opts.levels;
  if (levels) (root as Logger & { otgwLevels?: Record<string, LevelWithSilent> }).otgwLevels = levels;
  return root;
}

/** One child logger per module, honouring a per-module level override set on the root. */
export function child(parent: Logger, module: string): Logger {
  const levels = (parent as Logger & { otgwLevels?: Record<string, LevelWithSilent> }).otgwLevels;
  const c = parent.child({ module });
  const lvl = levels?.[module];
  if (lvl) c.level = lvl;
  return c;
}

/** A logger that drops everything: for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
