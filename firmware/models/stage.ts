import type { NormalizedRecord } from "../../kernel/record.js";
import { encodeRecord } from "../pipeline/encode.js";
import { canonicalJson } from "../pipeline/canonical.js";
import type { ModelArtefact } from "./artefact.js";
import { DriftTracker } from "./drift.js";
import { AssetScorer } from "./scorer.js";
import {
  DRIFT_SCHEMA_ID, InputHasher, PREDICTION_SCHEMA_ID, predictionId,
  type DriftReport, type InputRef, type ModelRef, type PredictionRecord,
} from "../../kernel/prediction.js";

/** A verified model ready to run. */
export interface LoadedModel {
  ref: ModelRef;
  artefact: ModelArtefact;
}

/** What the stage hands the runtime: a record to seal on the predictions stream. */
export type ModelOutput =
  | { schemaId: typeof PREDICTION_SCHEMA_ID; record: PredictionRecord; bytes: Buffer; tsNs: bigint }
  | { schemaId: typeof DRIFT_SCHEMA_ID; record: DriftReport; bytes: Buffer; tsNs: bigint };

interface OpenWindow {
  idx: bigint;
  samples: Map<string, number[]>;
  inputs: InputRef[];
  hasher: InputHasher;
}

interface AssetState {
  scorer: AssetScorer;
  drift: DriftTracker;
  open: OpenWindow | null;
}

/**
 * Edge scoring as a pipeline stage. observe() is synchronous and cheap: it appends a good numeric
 * reading to its asset's open window and hashes its sealed bytes; when a reading of a later window
 * arrives, the open window is scored and its prediction (and, periodically, a drift report) returned.
 * Windows are by source timestamp, so the outcome does not depend on arrival timing.
 */
export class ModelStage {
  private readonly assets = new Map<string, AssetState>();
  private readonly pointAsset = new Map<string, AssetState>();
  private readonly windowNs: bigint;
  readonly stats = { observed: 0, used: 0, late: 0, windows: 0, anomalous: 0, drift: 0, scoreNs: 0n };

  constructor(readonly model: LoadedModel, private readonly gatewayId: string) {
    const a = model.artefact;
    this.windowNs = BigInt(a.windowMs) * 1_000_000n;
    for (const am of a.assets) {
      const st: AssetState = { scorer: new AssetScorer(am), drift: new DriftTracker(am, a.driftEveryWindows), open: null };
      this.assets.set(am.id, st);
      for (const f of am.features) this.pointAsset.set(f.point, st);
    }
  }

  /**
   * Feeds one validated record (pass its encodeRecord bytes if already computed, to save re-encoding).
   * Records of points the model does not read, and bad/uncertain or non-numeric values, are ignored.
   */
  observe(record: NormalizedRecord, encoded?: Uint8Array): ModelOutput[] {
    this.stats.observed++;
    const st = this.pointAsset.get(record.point);
    if (!st || record.quality !== "good" || typeof record.value !== "number" || record.lineage.gatewayId !== this.gatewayId) return [];
    const idx = BigInt(record.sourceTsNs) / this.windowNs;
    const out: ModelOutput[] = [];
    if (st.open && idx > st.open.idx) out.push(...this.close(st));
    else if (st.open && idx < st.open.idx) {
      this.stats.late++;
      return out;
    }
    const w: OpenWindow = (st.open ??= { idx, samples: new Map<string, number[]>(), inputs: [] as InputRef[], hasher: new InputHasher() });
    const xs = w.samples.get(record.point);
    if (xs) xs.push(record.value);
    else w.samples.set(record.point, [record.value]);
    w.inputs.push({ gatewayId: record.lineage.gatewayId, stream: record.stream, point: record.point, sourceTsNs: record.sourceTsNs });
    w.hasher.add(encoded ?? encodeRecord(record));
    this.stats.used++;
    return out;
  }

  /** Scores every open window now (at stop): its records will not be followed by later ones. */
  flush(): ModelOutput[] {
    return [...this.assets.values()].flatMap((st) => (st.open ? this.close(st) : []));
  }

  /** Mean scoring cost per window in µs (window statistics + score, hashing excluded). */
  scoreMicrosPerWindow(): number {
    return this.stats.windows === 0 ? 0 : Number(this.stats.scoreNs) / 1000 / this.stats.windows;
  }

  private close(st: AssetState): ModelOutput[] {
    const w = st.open;
    st.open = null;
    if (!w) return [];
    const a = this.model.artefact;
    const t0 = process.hrtime.bigint();
    const s = st.scorer.score(Number(w.idx), w.samples, a.minSamples);
    this.stats.scoreNs += process.hrtime.bigint() - t0;
    if (s.features.length === 0) return [];
    this.stats.windows++;
    if (s.anomalous) this.stats.anomalous++;
    const startNs = w.idx * this.windowNs;
    const endNs = startNs + this.windowNs;
    const asset = st.scorer.model.id;
    const ref = this.model.ref;
    const record: PredictionRecord = {
      id: predictionId(this.gatewayId, ref.digest, asset, startNs.toString()),
      gatewayId: this.gatewayId, asset, model: ref, windowStartNs: startNs.toString(), windowEndNs: endNs.toString(),
      score: s.score, anomalous: s.anomalous, features: s.features, inputSha256: w.hasher.digestHex(), inputs: w.inputs,
    };
    const out: ModelOutput[] = [{ schemaId: PREDICTION_SCHEMA_ID, record, bytes: Buffer.from(canonicalJson(record), "utf8"), tsNs: endNs }];
    const d = st.drift.add(s.medians, startNs, endNs);
    if (d) {
      this.stats.drift++;
      const report: DriftReport = { gatewayId: this.gatewayId, asset, model: ref, ...d };
      out.push({ schemaId: DRIFT_SCHEMA_ID, record: report, bytes: Buffer.from(canonicalJson(report), "utf8"), tsNs: endNs });
    }
    return out;
  }
}
