import type { AssetModel } from "./artefact.js";
import { binOf, psi, round4 } from "./stats.js";

/**
 * Per-asset drift accumulator: window medians of each point against the training baseline carried
 * in the model. Reports the mean shift in baseline σ units and the PSI over the baseline's decile bins.
 */
export class DriftTracker {
  private readonly acc = new Map<string, { sum: number; n: number; bins: number[] }>();
  private windows = 0;
  private fromNs: bigint | null = null;

  constructor(private readonly model: AssetModel, private readonly every: number) {
    this.reset();
  }

  /** Adds one scored window; returns the report body when `every` windows have accumulated. */
  add(medians: ReadonlyMap<string, number>, startNs: bigint, endNs: bigint): { fromNs: string; toNs: string; windows: number; features: Array<{ point: string; windows: number; meanShiftSigma: number; psi: number }> } | null {
    this.fromNs ??= startNs;
    for (const f of this.model.features) {
      const m = medians.get(f.point);
      const a = this.acc.get(f.point);
      if (m === undefined || !a) continue;
      a.sum += m;
      a.n++;
      a.bins[binOf(m, f.baseline.cuts)]!++;
    }
    if (++this.windows < this.every) return null;
    const features = this.model.features.flatMap((f) => {
      const a = this.acc.get(f.point);
      if (!a || a.n === 0) return [];
      return [{ point: f.point, windows: a.n, meanShiftSigma: round4((a.sum / a.n - f.baseline.mean) / f.baseline.std), psi: round4(psi(a.bins)) }];
    });
    const out = { fromNs: this.fromNs.toString(), toNs: endNs.toString(), windows: this.windows, features };
    this.reset();
    return out;
  }

  private reset(): void {
    this.windows = 0;
    this.fromNs = null;
    for (const f of this.model.features) this.acc.set(f.point, { sum: 0, n: 0, bins: new Array<number>(f.baseline.cuts.length + 1).fill(0) });
  }
}
