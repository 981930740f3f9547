import type { AssetModel, FeatureModel } from "./artefact.js";
import { round4, windowStats, type WindowStats } from "./stats.js";
import type { FeatureScore } from "../../kernel/prediction.js";

export type { FeatureScore };


export interface WindowScore {
  /** Max over the scored points; ≥ 1 means anomalous. */
  score: number;
  anomalous: boolean;
  features: FeatureScore[];
  /** Window medians of the scored points (the drift tracker's input). */
  medians: Map<string, number>;
}

/** Sub-scores are capped so records stay finite JSON (a perfectly flat sensor has std 0). */
const CAP = 1e6;

/** Spike: the largest deviation from the window median, in noise σ. */
export function spikeZ(s: WindowStats, f: FeatureModel): number {
  return s.maxAbsDev / f.noiseSigma;
}

/** Stuck: window spread relative to the healthy noise (≈ 1 healthy, 0 flat-lined). */
export function spreadRatio(s: WindowStats, f: FeatureModel): number {
  return s.std / f.noiseSigma;
}

/** Operating-condition index of a window: the load point's median, standardized. */
export function loadIndex(loadMedian: number, a: AssetModel): number {
  return (loadMedian - a.load.mean) / a.load.std;
}

/**
 * Scores the windows of one asset. Stateful only in the load-index history that lagged level models
 * need (a bounded map of window index → load index); everything else is a pure function of the window.
 */
export class AssetScorer {
  private readonly history = new Map<number, number>();
  private readonly keep: number;

  constructor(readonly model: AssetModel) {
    this.keep = Math.max(0, ...model.features.map((f) => f.level?.lagWindows ?? 0)) + 1;
  }

  /** Scores window `idx` from the good samples of each point (points with < minSamples are skipped). */
  score(idx: number, samples: ReadonlyMap<string, readonly number[]>, minSamples: number): WindowScore {
    const stats = new Map<string, WindowStats>();
    for (const f of this.model.features) {
      const xs = samples.get(f.point);
      if (xs && xs.length >= minSamples) stats.set(f.point, windowStats(xs));
    }
    const load = stats.get(this.model.loadPoint);
    if (load) this.remember(idx, loadIndex(load.median, this.model));

    const features: FeatureScore[] = [];
    const medians = new Map<string, number>();
    let top = 0;
    for (const f of this.model.features) {
      const s = stats.get(f.point);
      if (!s) continue;
      medians.set(f.point, s.median);
      const spike = spikeZ(s, f) / f.spikeThreshold;
      const stuck = Math.min(CAP, f.stuckRatio / Math.max(spreadRatio(s, f), 1 / CAP));
      let level: number | null = null;
      if (f.level) {
        const li = this.history.get(idx - f.level.lagWindows);
        if (li !== undefined) level = Math.min(CAP, Math.abs(s.median - (f.level.a + f.level.b * li)) / f.level.sigma / f.level.threshold);
      }
      const score = Math.max(spike, stuck, level ?? 0);
      top = Math.max(top, score);
      features.push({ point: f.point, n: s.n, level: level === null ? null : round4(level), spike: round4(spike), stuck: round4(stuck), score: round4(score) });
    }
    return { score: round4(top), anomalous: top >= 1, features, medians };
  }

  private remember(idx: number, li: number): void {
    this.history.set(idx, li);
    for (const k of this.history.keys()) {
      if (k <= idx - this.keep) this.history.delete(k);
      else break;
    }
  }
}
