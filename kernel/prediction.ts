import { createHash, type Hash } from "node:crypto";

/** One point's part of a window score; each sub-score is normalized so that ≥ 1 means anomalous. */
export interface FeatureScore {
  point: string;
  /** Good samples of the point in the window. */
  n: number;
  /** Operating-condition residual; null for the load point or before enough history. */
  level: number | null;
  spike: number;
  stuck: number;
  /** max(level, spike, stuck). */
  score: number;
}

/** Stream that carries predictions and drift reports, sealed like telemetry (docs/model-bundle.md). */
export const PREDICTIONS_STREAM = "predictions";
export const PREDICTION_SCHEMA_ID = "otgw.prediction/1";
export const DRIFT_SCHEMA_ID = "otgw.model-drift/1";

/** The model a record was computed with. */
export interface ModelRef {
  name: string;
  version: number;
  /** SHA-256 hex of the artefact (the signed statement's subject digest). */
  digest: string;
}

/** Names one sealed input record; with the gateway id it finds the record at the receiver. */
export interface InputRef {
  gatewayId: string;
  stream: string;
  point: string;
  sourceTsNs: string;
}

/** `otgw.prediction/1`: one scored window of one asset. */
export interface PredictionRecord {
  /** 32 hex: SHA-256(gatewayId "|" model digest "|" asset "|" windowStartNs), first 16 bytes. */
  id: string;
  gatewayId: string;
  asset: string;
  model: ModelRef;
  windowStartNs: string;
  windowEndNs: string;
  /** ≥ 1 means anomalous. */
  score: number;
  anomalous: boolean;
  features: FeatureScore[];
  /** inputHash(records) over exactly the records in `inputs`, in that order. */
  inputSha256: string;
  inputs: InputRef[];
}

/** `otgw.model-drift/1`: the model's inputs against its training baseline, per point. */
export interface DriftReport {
  gatewayId: string;
  asset: string;
  model: ModelRef;
  fromNs: string;
  toNs: string;
  windows: number;
  features: Array<{ point: string; windows: number; meanShiftSigma: number; psi: number }>;
}

/**
 * Input window hash, incrementally: SHA-256 over, for each input record in order, its 4-byte
 * big-endian length followed by its encoded bytes (encodeRecord: exactly the sealed plaintext).
 * The length prefix makes the concatenation unambiguous.
 */
export class InputHasher {
  private readonly h: Hash = createHash("sha256");
  private readonly len = Buffer.alloc(4);
  count = 0;

  add(encoded: Uint8Array): void {
    this.len.writeUInt32BE(encoded.length, 0);
    this.h.update(this.len);
    this.h.update(encoded);
    this.count++;
  }

  digestHex(): string {
    return this.h.digest("hex");
  }
}

/** The receiver's side of InputHasher: the hash of already-encoded records. */
export function inputHash(records: readonly Uint8Array[]): string {
  const h = new InputHasher();
  for (const r of records) h.add(r);
  return h.digestHex();
}

export function predictionId(gatewayId: string, modelDigest: string, asset: string, windowStartNs: string): string {
  return createHash("sha256").update(`${gatewayId}|${modelDigest}|${asset}|${windowStartNs}`).digest("hex").slice(0, 32);
}
