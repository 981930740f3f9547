/**
 * One root error for everything otgw raises on purpose, with a family per area and a stable code from
 * that area's table (kernel/error-codes.ts). Messages say what went wrong *and what to do*, because the
 * reader is often a technician on site. Library code throws only these; the CLI prints `message [CODE]`.
 */
import {
  AUDIT_CODES, ATTEST_CODES, BROKER_CODES, CA_CODES, CONFIG_CODES, ENVELOPE_CODES, EST_CODES, IDENTITY_CODES, INGEST_CODES, INPUT_CODES,
  KEYSTORE_CODES, PKI_CODES, DEVKIT_CODES, QUEUE_CODES, RUNTIME_CODES, SOURCE_CODES, TPM_CODES, UPDATE_CODES, type CodeOf,
} from "./error-codes.js";

export * from "./error-codes.js";

export class GatewayError<C extends string = string> extends Error {
  /** Stable, machine-readable code (e.g. "CONFIG_INVALID") from the family's table; never reworded once released. */
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The gateway config (or another input file) does not validate. */
export class ConfigError extends GatewayError<CodeOf<typeof CONFIG_CODES>> {
  /** Every problem found, as `path: message`, so one run reports them all. */
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super("CONFIG_INVALID", `${source}: ${problems.length} problem(s):\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

/**
 * An input file other than the config (keys, certificates, state files, bundles): too large, unreadable or
 * not what it should be. The message names the file and what to do (kernel/input-file.ts, kernel/pem.ts).
 */
export class InputFileError extends GatewayError<CodeOf<typeof INPUT_CODES>> {}
/** Sealing or encoding a frame or record. */
export class EnvelopeError extends GatewayError<CodeOf<typeof ENVELOPE_CODES>> {}
/** The store-and-forward queue. */
export class QueueError extends GatewayError<CodeOf<typeof QUEUE_CODES>> {}
/** The runtime's own state machine (used out of order, a switch already running). */
export class RuntimeError extends GatewayError<CodeOf<typeof RUNTIME_CODES>> {}
/** A field source (hal/): unreachable, untrusted, misconfigured. */
export class SourceError extends GatewayError<CodeOf<typeof SOURCE_CODES>> {}
/** The hash-chained audit log. */
export class AuditError extends GatewayError<CodeOf<typeof AUDIT_CODES>> {}
/** The gateway's identity as a whole: its certificate, key files, renewal, the production-mode rules. */
export class IdentityError extends GatewayError<CodeOf<typeof IDENTITY_CODES>> {}
/** Creating and opening named keys (software or TPM keystore). */
export class KeyStoreError extends GatewayError<CodeOf<typeof KEYSTORE_CODES>> {}
/** The TPM, its libraries and helpers (swtpm, tabrmd, the OpenSSL provider, the TLS sidecar). */
export class TpmError extends GatewayError<CodeOf<typeof TPM_CODES>> {}
/** TPM attestation before issuance: the EK chain, the key's attributes, credential activation. */
export class AttestError extends GatewayError<CodeOf<typeof ATTEST_CODES>> {}
/**
 * EST enrollment (RFC 7030), either end. A refusal the client receives carries the server's code when
 * it is one of the EST, attestation or CA tables.
 */
export class EstError extends GatewayError<CodeOf<typeof EST_CODES> | CodeOf<typeof ATTEST_CODES> | CodeOf<typeof CA_CODES>> {}
/** The fleet CA: its files, its inventory of gateways and keys, its CRL. */
export class CaError extends GatewayError<CodeOf<typeof CA_CODES>> {}
/** Issuing certificates (names, keys, validity). */
export class PkiError extends GatewayError<CodeOf<typeof PKI_CODES>> {}
/** The receiver's evidence store and its queries. */
export class IngestError extends GatewayError<CodeOf<typeof INGEST_CODES>> {}
/** The dev kit's mosquitto runner. */
export class BrokerError extends GatewayError<CodeOf<typeof BROKER_CODES>> {}

/** Field updates of the gateway's OS image (RAUC bundles, docs/update.md). */
export class UpdateError extends GatewayError<CodeOf<typeof UPDATE_CODES>> {}

/** The dev kit's peers and helpers (dev and test only). */
export class DevkitError extends GatewayError<CodeOf<typeof DEVKIT_CODES>> {}

const rebuild = <C extends string>(codes: Record<C, string>, E: new (code: C, message: string) => GatewayError) =>
  (code: string, message: string): GatewayError | undefined => (Object.hasOwn(codes, code) ? new E(code as C, message) : undefined);

const FAMILIES = [
  rebuild(ENVELOPE_CODES, EnvelopeError), rebuild(QUEUE_CODES, QueueError), rebuild(RUNTIME_CODES, RuntimeError),
  rebuild(SOURCE_CODES, SourceError), rebuild(AUDIT_CODES, AuditError), rebuild(IDENTITY_CODES, IdentityError),
  rebuild(KEYSTORE_CODES, KeyStoreError), rebuild(TPM_CODES, TpmError), rebuild(ATTEST_CODES, AttestError),
  rebuild<CodeOf<typeof EST_CODES>>(EST_CODES, EstError), rebuild(CA_CODES, CaError), rebuild(PKI_CODES, PkiError), rebuild(INGEST_CODES, IngestError),
  rebuild(BROKER_CODES, BrokerError), rebuild(DEVKIT_CODES, DevkitError), rebuild(INPUT_CODES, InputFileError),
  rebuild(UPDATE_CODES, UpdateError),
];

/**
 * The error of the family that owns `code`, for a code that crossed a process or network boundary (the
 * EST server's refusal, the TLS sidecar's failure); undefined for a code no table has, so the caller
 * picks its own.
 */
export function errorFromWire(code: string | undefined, message: string): GatewayError | undefined {
  if (code === undefined) return undefined;
  for (const make of FAMILIES) {
    const e = make(code, message);
    if (e) return e;
  }
  return undefined;
}

/** The stable code of a project error; undefined for anything else. */
export function codeOf(err: unknown): string | undefined {
  return err instanceof GatewayError ? (err as GatewayError<string>).code : undefined;
}

/** Text of any thrown value, for logs and error events (never includes payloads: callers pass errors only). */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
