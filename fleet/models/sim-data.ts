import { createHash } from "node:crypto";
import type { GatewayConfig, SimSourceConfig } from "../../firmware/config/schema.js";
import { simReadings, type GeneratedReading } from "../../hal/sim/generate.js";
import type { SimFaultSpec } from "../../hal/sim/model.js";
import type { TrainingSample, TrainingSpec } from "./train.js";
import { ModelError, MODEL_ERRORS } from "../../firmware/models/errors.js";

/** The sim source of a config (the first, or the one named). */
export function simSourceOf(config: GatewayConfig, id?: string): SimSourceConfig {
  const s = config.sources.find((x): x is SimSourceConfig => x.kind === "sim" && (id === undefined || x.id === id));
  if (!s) throw new ModelError(MODEL_ERRORS.trainingData, id ? `no sim source "${id}" in the config` : "the config has no sim source to train from");
  return s;
}

/** Points of each simulated asset, by the config's point names; motor current indexes the load. */
export function simTrainingAssets(config: GatewayConfig, src: SimSourceConfig): TrainingSpec["assets"] {
  const units = new Map(config.transforms.map((t) => [t.id, t.unit] as const));
  return src.assets.map((a) => {
    const points = config.points
      .filter((p) => p.source === src.id && p.address.startsWith(`${a.id}/`))
      .map((p) => ({ point: p.name, unit: units.get(p.transform) ?? "", address: p.address }));
    const load = points.find((p) => p.address === `${a.id}/motor_current`);
    if (!load) throw new ModelError(MODEL_ERRORS.trainingData, `asset ${a.id} has no motor_current point to index its load`);
    return { id: a.id, loadPoint: load.point, points: points.map(({ point, unit }) => ({ point, unit })) };
  });
}

/** Deterministic readings of the config's simulated plant from startMs, with the given faults. */
export function plantReadings(src: SimSourceConfig, startMs: number, seconds: number, faults: readonly SimFaultSpec[]): Generator<GeneratedReading> {
  return simReadings({ seed: src.seed, assets: src.assets, faults, rateHz: src.rateHz, startMs }, Math.floor(seconds * src.rateHz));
}

/**
 * Healthy training data: the plant with every fault removed. Returns the samples (by point name)
 * and the dataset digest recorded in the bundle's provenance: SHA-256 over the lines
 * "<point>,<tMs>,<value>\n" in generation order.
 */
export function simTrainingSet(config: GatewayConfig, src: SimSourceConfig, startMs: number, seconds: number): { samples: TrainingSample[]; sha256: string } {
  const pointOf = new Map(config.points.filter((p) => p.source === src.id).map((p) => [p.address, p.name] as const));
  const h = createHash("sha256");
  const samples: TrainingSample[] = [];
  for (const r of plantReadings(src, startMs, seconds, [])) {
    const point = pointOf.get(r.address);
    if (point === undefined || typeof r.value !== "number" || r.quality !== "good") continue;
    samples.push({ point, tMs: r.tMs, value: r.value });
    h.update(`${point},${r.tMs},${r.value}\n`);
  }
  return { samples, sha256: h.digest("hex") };
}
