import Database from "better-sqlite3";
import { IngestError } from "../kernel/errors.js";
import { READING_SCHEMA_ID } from "../kernel/record.js";
import { inputHash, PREDICTION_SCHEMA_ID, type InputRef, type ModelRef, type PredictionRecord } from "../kernel/prediction.js";

/** Where a verified record sits in the receiver's store. */
export interface VerifiedAt {
  gatewayId: string;
  stream: string;
  sessionId: string;
  seq: string;
}

/** A prediction traced back to its model and its verified inputs. */
export interface Trace {
  id: string;
  /** The prediction's own verified envelope (its gateway id is the authenticated one). */
  prediction: VerifiedAt & { score: number; anomalous: boolean; asset: string; windowStartNs: string; windowEndNs: string };
  model: ModelRef;
  inputSha256: string;
  /** SHA-256 recomputed from the verified input records, exactly as the gateway hashed them. */
  recomputedSha256: string | null;
  match: boolean;
  inputs: Array<{ ref: InputRef; at: VerifiedAt | null }>;
  missing: number;
}

/**
 * Traces a prediction id in a receiver store: finds the verified `otgw.prediction/1` record, then each
 * input it names among the verified `otgw.reading/1` records of the same (authenticated) gateway, and
 * recomputes the input hash over their stored bytes (docs/model-bundle.md "Input hash").
 */
export function tracePrediction(dbFile: string, id: string): Trace {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new IngestError("TRACE_BAD_ID", `prediction id must be 32 lowercase hex characters (the "id" of an otgw.prediction/1 record)`);
  const db = new Database(dbFile, { fileMustExist: true });
  try {
    // The receiver's table has no index for lookups by source time; add one (idempotent) so tracing stays fast.
    db.exec("CREATE INDEX IF NOT EXISTS verified_by_source ON verified (gateway_id, stream, source_ts_ns)");
    type Row = { gateway_id: string; stream: string; session_id: string; seq: bigint; record: string };
    const rows = db.prepare("SELECT gateway_id, stream, session_id, seq, record FROM verified WHERE schema_id = ? AND json_extract(record, '$.id') = ?")
      .safeIntegers(true).all(PREDICTION_SCHEMA_ID, id) as Row[];
    const row = rows[0];
    if (!row) throw new IngestError("TRACE_NOT_FOUND", `no verified prediction ${id} in ${dbFile}`);
    const p = JSON.parse(row.record) as PredictionRecord;
    const byRef = db.prepare(`SELECT gateway_id, stream, session_id, seq, record FROM verified
      WHERE gateway_id = ? AND stream = ? AND source_ts_ns = ? AND schema_id = ? AND json_extract(record, '$.point') = ?`).safeIntegers(true);
    const inputs: Trace["inputs"] = [];
    const bytes: Buffer[] = [];
    let missing = 0;
    for (const ref of p.inputs) {
      // Inputs must come from the gateway that sealed the prediction, whatever the record claims.
      const hit = ref.gatewayId === row.gateway_id ? (byRef.all(row.gateway_id, ref.stream, ref.sourceTsNs, READING_SCHEMA_ID, ref.point) as Row[]) : [];
      const r = hit.length === 1 ? hit[0] : undefined;
      if (!r) {
        missing++;
        inputs.push({ ref, at: null });
        continue;
      }
      bytes.push(Buffer.from(r.record, "utf8"));
      inputs.push({ ref, at: at(r) });
    }
    const recomputed = missing === 0 ? inputHash(bytes) : null;
    return {
      id,
      prediction: { ...at(row), score: p.score, anomalous: p.anomalous, asset: p.asset, windowStartNs: p.windowStartNs, windowEndNs: p.windowEndNs },
      model: p.model, inputSha256: p.inputSha256, recomputedSha256: recomputed, match: recomputed === p.inputSha256, inputs, missing,
    };
  } finally {
    db.close();
  }
}

function at(r: { gateway_id: string; stream: string; session_id: string; seq: bigint }): VerifiedAt {
  return { gatewayId: r.gateway_id, stream: r.stream, sessionId: r.session_id, seq: r.seq.toString() };
}
