/** One figure of the bench suite, as written to results.json (ids are relied on by testers' scripts). */
export interface BenchFigure {
  id: string;
  unit: string;
  /** Median over trials. */
  value: number;
  /** Spread over trials (max − min of the trial medians), same unit. */
  spread?: number;
  p99?: number;
  p999?: number;
  /** Id of the figure this one is compared with, measured in the same run. */
  baseline?: string;
  /** value / baseline value. */
  ratio?: number;
}
