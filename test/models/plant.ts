import { join } from "node:path";
import { ManualClock } from "../../kernel/clock.js";
import type { NormalizedRecord } from "../../kernel/record.js";
import { repoRoot } from "../../kernel/paths.js";
import { loadConfig } from "../../firmware/config/load.js";
import type { GatewayConfig, SimSourceConfig } from "../../firmware/config/schema.js";
import { Normalizer } from "../../firmware/pipeline/normalize.js";
import { Validator } from "../../firmware/pipeline/validate.js";
import { SimSource } from "../../hal/sim/source.js";
import type { SimFaultSpec } from "../../hal/sim/model.js";
import type { ModelArtefact } from "../../firmware/models/artefact.js";
import { trainModel } from "../../fleet/models/train.js";
import { plantReadings, simSourceOf, simTrainingAssets, simTrainingSet } from "../../fleet/models/sim-data.js";

/** The demo plant (config/examples/sim-plant.yaml), loaded as the gateway would. */
export function plantConfig(): { config: GatewayConfig; src: SimSourceConfig } {
  const { config } = loadConfig(join(repoRoot(), "config", "examples", "sim-plant.yaml"));
  return { config, src: simSourceOf(config) };
}

/** Training: one hour of healthy plant, starting at this epoch ms. */
export const TRAIN_START_MS = 1_700_000_000_000;
export const TRAIN_SECONDS = 1800;

let cached: ModelArtefact | null = null;

/** The model trained from the plant's healthy half hour (cached per process: training takes a moment). */
export function trainedArtefact(): ModelArtefact {
  if (cached) return cached;
  const { config, src } = plantConfig();
  const { samples } = simTrainingSet(config, src, TRAIN_START_MS, TRAIN_SECONDS);
  cached = trainModel(samples, { assets: simTrainingAssets(config, src), windowMs: 1000, minSamples: 5, driftEveryWindows: 120, maxLagWindows: 150 });
  return cached;
}

/**
 * Valid records of the plant as the pipeline would hand them to the model stage: normalized with full
 * lineage and validated (what the validator would quarantine never reaches the model).
 */
export function* plantRecords(config: GatewayConfig, src: SimSourceConfig, startMs: number, seconds: number, faults: readonly SimFaultSpec[]): Generator<NormalizedRecord> {
  const clock = new ManualClock(startMs);
  const source = new SimSource({ ...src, faults }, clock);
  const normalizer = new Normalizer(config, clock);
  const validator = new Validator(config);
  for (const r of plantReadings(src, startMs, seconds, faults)) {
    // The gateway clock follows the plant (the validator refuses readings from the future).
    if (r.tMs > clock.nowMs()) clock.advanceMs(r.tMs - clock.nowMs());
    const rec = normalizer.normalize(source, r);
    if (rec && validator.validate(rec).ok) yield rec;
  }
}
