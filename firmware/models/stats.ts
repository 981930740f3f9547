/** Small, allocation-light statistics shared by training and scoring (same code = same numbers). */

/** What scoring needs from one point's samples in one window. */
export interface WindowStats {
  n: number;
  median: number;
  /** Sample standard deviation (n − 1). */
  std: number;
  /** max |x − median|. */
  maxAbsDev: number;
}

/** Median of a sorted array. */
export function sortedMedian(s: ArrayLike<number>): number {
  const n = s.length;
  const m = n >> 1;
  return n % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function median(xs: readonly number[]): number {
  return sortedMedian(Float64Array.from(xs).sort());
}

/** 1.4826 · median absolute deviation: a σ estimate that ignores outliers. */
export function robustSigma(xs: readonly number[]): number {
  const m = median(xs);
  return 1.4826 * median(xs.map((x) => Math.abs(x - m)));
}

export function windowStats(xs: readonly number[]): WindowStats {
  const n = xs.length;
  const sorted = Float64Array.from(xs).sort();
  const med = sortedMedian(sorted);
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  const lo = sorted[0] as number;
  const hi = sorted[n - 1] as number;
  return { n, median: med, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, maxAbsDev: Math.max(med - lo, hi - med) };
}

export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  let s = 0;
  for (const x of xs) s += x;
  const mean = s / xs.length;
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  return { mean, std: Math.sqrt(ss / Math.max(1, xs.length - 1)) };
}

/** Quantile cut points splitting xs into `bins` equally populated bins (bins − 1 cuts). */
export function quantileCuts(xs: readonly number[], bins: number): number[] {
  const s = Float64Array.from(xs).sort();
  const cuts: number[] = [];
  for (let i = 1; i < bins; i++) cuts.push(s[Math.min(s.length - 1, Math.floor((i * s.length) / bins))] as number);
  return cuts;
}

/** Bin index of x among sorted cut points. */
export function binOf(x: number, cuts: readonly number[]): number {
  let i = 0;
  while (i < cuts.length && x >= (cuts[i] as number)) i++;
  return i;
}

/**
 * Population stability index of observed bin counts against equally populated baseline bins:
 * Σ (q − p)·ln(q / p). Empty bins get a small floor so the sum stays finite.
 */
export function psi(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const p = 1 / counts.length;
  let sum = 0;
  for (const c of counts) {
    const q = Math.max(c / total, 1e-4);
    sum += (q - p) * Math.log(q / p);
  }
  return sum;
}

/** Rounds for records: 4 decimals keeps JSON short; the score is a decision aid, not a measurement. */
export function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
