/**
 * Exponential backoff, the one implementation for every retry loop (uplink reconnects, Modbus polls
 * and retries, OPC UA reconnects): each caller keeps its own parameters, randomness comes from outside.
 */
export interface BackoffOptions {
  /** First delay (ms); each further attempt doubles it. */
  minMs: number;
  /** Ceiling (ms) for the doubled delay; `Infinity` for none. */
  maxMs: number;
  /**
   * Share of each delay that is random, 0..1 (default 0.5, "equal jitter": half fixed, half random, so
   * it never collapses to zero yet spreads a fleet that lost the broker at the same moment). 0 gives a
   * fixed schedule; 1 is "full jitter".
   */
  jitter?: number;
}

/** Doublings past this add nothing (any real ceiling is reached long before) and would overflow towards Infinity. */
const MAX_DOUBLINGS = 30;

/**
 * Delay before retry `attempt` (0-based): `min(maxMs, minMs × 2^attempt)`, of which the `jitter` share
 * is scaled by `random()` (a number in [0, 1), like Math.random; pin it in tests). Rounded to whole ms.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const jitter = o.jitter ?? 0.5;
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`backoff jitter must be within 0..1, not ${jitter}`);
  const exp = Math.min(o.maxMs, o.minMs * 2 ** Math.min(Math.max(0, attempt), MAX_DOUBLINGS));
  if (jitter === 0) return Math.round(exp);
  return Math.round(exp * (1 - jitter) + random() * exp * jitter);
}

/** A retry loop's backoff state: next() hands out the growing delays, reset() starts over after a success. */
export class Backoff {
  private n = 0;

  /** Remembers the parameters and the randomness; the first next() returns the attempt-0 delay. */
  constructor(private readonly o: BackoffOptions, private readonly random: () => number = Math.random) {}

  /** Retries handed out since the last reset (0 right after it). */
  get attempts(): number {
    return this.n;
  }

  /** The delay before the next retry; each call counts one attempt. */
  next(): number {
    return backoffDelay(this.n++, this.o, this.random);
  }

  /** After a success: the next delay is the first one again. */
  reset(): void {
    this.n = 0;
  }
}
