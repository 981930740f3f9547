/** Reconnect delays: exponential from `minMs` to `maxMs`, with jitter so a fleet does not reconnect in lockstep. */
export interface BackoffOptions {
  /** First delay (ms). */
  minMs: number;
  /** Ceiling (ms). */
  maxMs: number;
}

/**
 * Delay before attempt `attempt` (0-based): half fixed, half random ("equal jitter"), so it never
 * collapses to zero yet spreads a fleet that lost the broker at the same moment.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(o.maxMs, o.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}
