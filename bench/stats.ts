/** Small statistics helpers shared by the bench files. */
import type { BenchFigure } from "./figure.js";

/** The q-quantile (0..1) of `xs` (nearest rank). */
export function quantile(xs: ArrayLike<number>, q: number): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0;
}

export function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

/** A rate figure: median of the trial rates, spread = max − min of them. */
export function rateFigure(id: string, unit: string, rates: number[]): BenchFigure {
  return { id, unit, value: median(rates), spread: Math.max(...rates) - Math.min(...rates), trials: rates.length };
}
