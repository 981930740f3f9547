/**
 * One root error for everything otgw raises on purpose, with a family per area and a stable code.
 * Messages say what went wrong *and what to do*, because the reader is often a technician on site.
 */
export class GatewayError extends Error {
  /** Stable, machine-readable code (e.g. "CONFIG_INVALID"); never reworded once released. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class ConfigError extends GatewayError {
  /** Every problem found, as `path: message`, so one run reports them all. */
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super("CONFIG_INVALID", `${source}: ${problems.length} problem(s):\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

export class CryptoError extends GatewayError {}
export class EnvelopeError extends GatewayError {}
export class QueueError extends GatewayError {}
export class UplinkError extends GatewayError {}
export class SourceError extends GatewayError {}
export class IdentityError extends GatewayError {}
export class AuditError extends GatewayError {}

/** Text of any thrown value, for logs and error events (never includes payloads: callers pass errors only). */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
