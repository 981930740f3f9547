import type { AssetModel, FeatureModel, LevelModel, ModelArtefact } from "../../firmware/models/artefact.js";
import { MODEL_KIND } from "../../firmware/models/artefact.js";
import { loadIndex, spikeZ, spreadRatio } from "../../firmware/models/scorer.js";
import { meanStd, quantileCuts, robustSigma, windowStats, type WindowStats } from "../../firmware/models/stats.js";
import { ModelError, MODEL_ERRORS } from "../../firmware/models/errors.js";

/** One healthy training sample. */
export interface TrainingSample {
  point: string;
  /** Source time, ms since the epoch. */
  tMs: number;
  value: number;
}

export interface TrainingSpec {
  assets: ReadonlyArray<{ id: string; loadPoint: string; points: ReadonlyArray<{ point: string; unit: string }> }>;
  windowMs: number;
  minSamples: number;
  driftEveryWindows: number;
  /** Longest lag (in windows) searched between the load index and a point's level. */
  maxLagWindows: number;
  /** Thresholds sit this factor beyond the most extreme healthy window (default 1.25). */
  margin?: number;
}

/**
 * Learns an "otgw.robust-residual/1" model from healthy data: per point the noise σ, spike and stuck
 * limits, the drift baseline and, except for the load point, a lagged linear model of its level on
 * the asset's load index (the lag with the strongest correlation wins). Thresholds are set `margin`
 * beyond the most extreme healthy window, so the training data itself never alarms.
 */
export function trainModel(samples: Iterable<TrainingSample>, spec: TrainingSpec): ModelArtefact {
  const margin = spec.margin ?? 1.25;
  const byPoint = new Map<string, Map<number, number[]>>();
  for (const s of samples) {
    let w = byPoint.get(s.point);
    if (!w) byPoint.set(s.point, (w = new Map<number, number[]>()));
    const idx = Math.floor(s.tMs / spec.windowMs);
    const xs = w.get(idx);
    if (xs) xs.push(s.value);
    else w.set(idx, [s.value]);
  }
  const windowsOf = (point: string): Map<number, WindowStats> => {
    const out = new Map<number, WindowStats>();
    for (const [idx, xs] of byPoint.get(point) ?? []) if (xs.length >= spec.minSamples) out.set(idx, windowStats(xs));
    if (out.size < 10) throw new ModelError(MODEL_ERRORS.trainingData, `training data has only ${out.size} complete window(s) for ${point}; need more healthy data`);
    return out;
  };

  const assets: AssetModel[] = spec.assets.map((a) => {
    const loadWins = windowsOf(a.loadPoint);
    const loadMedians = [...loadWins.values()].map((s) => s.median);
    const asset: AssetModel = { id: a.id, loadPoint: a.loadPoint, load: meanStd(loadMedians), features: [] };
    const li = new Map<number, number>([...loadWins].map(([k, s]) => [k, loadIndex(s.median, asset)]));
    asset.features = a.points.map((p) => feature(p.point, p.unit, windowsOf(p.point), p.point === a.loadPoint ? null : li, spec.maxLagWindows, margin));
    return asset;
  });
  return { kind: MODEL_KIND, windowMs: spec.windowMs, minSamples: spec.minSamples, driftEveryWindows: spec.driftEveryWindows, assets };
}

function feature(point: string, unit: string, wins: Map<number, WindowStats>, li: Map<number, number> | null, maxLag: number, margin: number): FeatureModel {
  const stats = [...wins.values()];
  // Noise σ from the spread around each window's median, pooled (robust to the slow load cycle).
  const noiseSigma = Math.max(1e-9, Math.sqrt(stats.reduce((s, w) => s + w.std ** 2, 0) / stats.length));
  const base: FeatureModel = { point, unit, noiseSigma, spikeThreshold: 1, stuckRatio: 1, level: null, baseline: { mean: 0, std: 1, cuts: [0] } };
  base.spikeThreshold = margin * Math.max(...stats.map((s) => spikeZ(s, base)));
  base.stuckRatio = Math.min(...stats.map((s) => spreadRatio(s, base))) / margin;
  const medians = stats.map((s) => s.median);
  const ms = meanStd(medians);
  base.baseline = { mean: ms.mean, std: Math.max(ms.std, 1e-9), cuts: quantileCuts(medians, 10) };
  if (li) base.level = levelModel(wins, li, maxLag, margin);
  return base;
}

function levelModel(wins: Map<number, WindowStats>, li: Map<number, number>, maxLag: number, margin: number): LevelModel {
  let best: { lag: number; r: number; a: number; b: number } | null = null;
  for (let lag = 0; lag <= maxLag; lag++) {
    const fit = regress(wins, li, lag);
    if (fit && (best === null || Math.abs(fit.r) > Math.abs(best.r))) best = { lag, ...fit };
  }
  if (!best) throw new ModelError(MODEL_ERRORS.trainingData, "training data too short for the level model; record more healthy data");
  const { lag, a, b } = best;
  const resid: number[] = [];
  for (const [k, s] of wins) {
    const x = li.get(k - lag);
    if (x !== undefined) resid.push(s.median - (a + b * x));
  }
  const sigma = Math.max(1e-9, robustSigma(resid));
  const threshold = margin * Math.max(...resid.map((r) => Math.abs(r) / sigma));
  return { lagWindows: lag, a, b, sigma, threshold };
}

/** Least squares y = a + b·x over windows k with x = load index at k − lag; r is the correlation. */
function regress(wins: Map<number, WindowStats>, li: Map<number, number>, lag: number): { a: number; b: number; r: number } | null {
  let n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (const [k, s] of wins) {
    const x = li.get(k - lag);
    if (x === undefined) continue;
    const y = s.median;
    n++; sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
  }
  if (n < 10) return null;
  const vx = sxx - (sx * sx) / n;
  const vy = syy - (sy * sy) / n;
  const cxy = sxy - (sx * sy) / n;
  if (vx <= 0 || vy <= 0) return null;
  const b = cxy / vx;
  return { a: (sy - b * sx) / n, b, r: cxy / Math.sqrt(vx * vy) };
}
