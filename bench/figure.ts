/** One figure of the bench suite, as written to results.json (ids are relied on by testers' scripts). */
export interface BenchFigure {
  id: string;
  unit: string;
  /** Median over trials. */
  value: number;
  /** Spread over trials (max − min of the trial values), same unit. */
  spread?: number;
  /** Latency figures: median over trials of the per-message 99th / 99.9th percentile, same unit. */
  p99?: number;
  p999?: number;
  /** Id of the figure this one is compared with, measured in the same run. */
  baseline?: string;
  /** value / baseline value. */
  ratio?: number;
  /** Number of trials the median is taken over. */
  trials?: number;
  /** What was measured, when the id alone does not say (e.g. message count, payload size). */
  note?: string;
}
