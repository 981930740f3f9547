import { Type, type Static } from "@sinclair/typebox";
import { Ajv } from "ajv";
import { MODEL_ERRORS, ModelError } from "./errors.js";

/**
 * The model artefact of kind "otgw.robust-residual/1": per-asset, per-point statistics learned from
 * healthy data (docs/model-bundle.md "Model kind"). Plain JSON numbers, no code: loading a model
 * never executes anything from the bundle.
 */
export const MODEL_KIND = "otgw.robust-residual/1";
export const ARTEFACT_MEDIA_TYPE = "application/vnd.otgw.model.robust-residual.v1+json";

const strict = { additionalProperties: false } as const;
const Num = Type.Number();
const Pos = Type.Number({ exclusiveMinimum: 0 });

export const LevelModel = Type.Object({
  /** The point's window median is compared with a + b·load index, `lagWindows` windows earlier. */
  lagWindows: Type.Integer({ minimum: 0, maximum: 10_000 }),
  a: Num,
  b: Num,
  /** Robust σ of the residual on healthy data. */
  sigma: Pos,
  /** Residual |r|/sigma above this is anomalous. */
  threshold: Pos,
}, strict);

export const FeatureModel = Type.Object({
  point: Type.String({ minLength: 1 }),
  unit: Type.String({ minLength: 1 }),
  /** Pooled within-window σ on healthy data (measurement noise). */
  noiseSigma: Pos,
  /** max |x − window median| / noiseSigma above this is a spike. */
  spikeThreshold: Pos,
  /** Window standard deviation / noiseSigma below this is a stuck (flat-lined) sensor. */
  stuckRatio: Pos,
  /** Operating-condition model; null for the load point itself. */
  level: Type.Union([LevelModel, Type.Null()]),
  /** Training distribution of window medians: the drift baseline. */
  baseline: Type.Object({ mean: Num, std: Pos, cuts: Type.Array(Num, { minItems: 1, maxItems: 99 }) }, strict),
}, strict);

export const AssetModel = Type.Object({
  id: Type.String({ minLength: 1 }),
  /** The point whose window median indexes the operating condition (motor current: load). */
  loadPoint: Type.String({ minLength: 1 }),
  load: Type.Object({ mean: Num, std: Pos }, strict),
  features: Type.Array(FeatureModel, { minItems: 1 }),
}, strict);

export const ModelArtefact = Type.Object({
  kind: Type.Literal(MODEL_KIND),
  /** Scoring window length, by source timestamp. */
  windowMs: Type.Integer({ minimum: 10, maximum: 3_600_000 }),
  /** A point with fewer good samples in a window is not scored in that window. */
  minSamples: Type.Integer({ minimum: 2 }),
  /** A drift report per asset after this many scored windows. */
  driftEveryWindows: Type.Integer({ minimum: 1 }),
  assets: Type.Array(AssetModel, { minItems: 1 }),
}, strict);

export type ModelArtefact = Static<typeof ModelArtefact>;
export type AssetModel = Static<typeof AssetModel>;
export type FeatureModel = Static<typeof FeatureModel>;
export type LevelModel = Static<typeof LevelModel>;

const validate = new Ajv({ strict: true }).compile<ModelArtefact>(ModelArtefact);

/** Parses artefact bytes (already digest-checked) into a model this gateway can run. */
export function parseArtefact(bytes: Buffer): ModelArtefact {
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new ModelError(MODEL_ERRORS.unsupported, "model artefact is not JSON");
  }
  if (!validate(data)) {
    const e = validate.errors?.[0];
    throw new ModelError(MODEL_ERRORS.unsupported, `model artefact ${e?.instancePath || "/"}: ${e?.message ?? "invalid"} (this gateway runs ${MODEL_KIND})`);
  }
  for (const a of data.assets) {
    if (!a.features.some((f) => f.point === a.loadPoint)) throw new ModelError(MODEL_ERRORS.unsupported, `model asset ${a.id}: loadPoint is not one of its features`);
  }
  return data;
}
