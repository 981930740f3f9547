/**
 * Time comes from outside so tests are repeatable (matter.js MockTime pattern).
 */
export interface Clock {
  /** Wall-clock time in nanoseconds since the Unix epoch. */
  nowNs(): bigint;
  /** Wall-clock time in milliseconds since the Unix epoch. */
  nowMs(): number;
}

const originNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Wall clock with nanosecond resolution: Date's epoch anchor plus the monotonic hrtime offset. */
export const systemClock: Clock = {
  nowNs: () => originNs + process.hrtime.bigint(),
  nowMs: () => Date.now(),
};

/** A clock that only moves when told to: for tests. */
export class ManualClock implements Clock {
  private ns: bigint;
  constructor(startMs = 1_700_000_000_000) {
    this.ns = BigInt(startMs) * 1_000_000n;
  }
  nowNs(): bigint {
    return this.ns;
  }
  nowMs(): number {
    return Number(this.ns / 1_000_000n);
  }
  /** Moves the clock forward (or back, for a negative `ms`) by `ms` milliseconds. */
  advanceMs(ms: number): void {
    this.ns += BigInt(Math.round(ms * 1_000_000));
  }
  /** Moves the clock by exactly `ns` nanoseconds (ManualTime steps to timers' due times with it). */
  advanceNs(ns: bigint): void {
    this.ns += ns;
  }
}
