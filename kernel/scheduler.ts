/**
 * Timers come from outside, like the time itself (clock.ts): code that waits takes a `Scheduler`, so
 * tests drive debounce windows, poll intervals and reconnect delays with `ManualTime` instead of sleeping.
 */
import { ManualClock, type Clock } from "./clock.js";
import { RuntimeError } from "./errors.js";

/** A pending timeout or interval. */
export interface Timer {
  /** Stops it: a timeout that has not fired never fires, an interval fires no more. Harmless when repeated or after it fired. */
  cancel(): void;
  /** Lets the process exit while this timer is still pending (Node's `unref`); returns the same timer. */
  unref(): Timer;
}

/** Where timers are set: the system's (real time) or a manual one (tests). */
export interface Scheduler {
  /** Calls `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Calls `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number): Timer;
}

function nodeTimer(t: NodeJS.Timeout): Timer {
  const timer: Timer = {
    cancel: () => clearTimeout(t), // clears intervals too
    unref: () => {
      t.unref();
      return timer;
    },
  };
  return timer;
}

/** Node's timers: what production code runs on. */
export const systemScheduler: Scheduler = {
  setTimeout: (fn, ms) => nodeTimer(setTimeout(fn, ms)),
  setInterval: (fn, ms) => nodeTimer(setInterval(fn, ms)),
};

/** Resolves `ms` from now on `scheduler`; with `unref`, the pending delay does not keep the process alive on its own. */
export function sleep(scheduler: Scheduler, ms: number, o: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    const t = scheduler.setTimeout(resolve, ms);
    if (o.unref) t.unref();
  });
}

interface Pending {
  fn: () => void;
  dueNs: bigint;
  /** Null for a timeout. */
  periodNs: bigint | null;
  /** Tie-break between timers due at the same instant: the one set (or re-armed) first fires first, as in Node. */
  order: number;
}

/** Node treats delays below 1 ms as 1 ms; so do we, which also keeps a chain of zero-delay timers from spinning inside advance(). */
function delayNs(ms: number): bigint {
  return BigInt(Math.round(Math.max(1, Number.isFinite(ms) ? ms : 1) * 1_000_000));
}

/** Lets promise continuations (and I/O callbacks already due) run: one turn of the real event loop. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Clock and scheduler in one, for tests: time stands still until `advance(ms)`, which moves the clock
 * to each due timer in turn, fires it, and lets the promise continuations it started run before the
 * next one, so `await time.advance(ms)` behaves like `ms` of real time passing, without the waiting.
 * Pass the same object where code wants a Clock and where it wants a Scheduler.
 */
export class ManualTime implements Clock, Scheduler {
  private readonly timers = new Map<number, Pending>();
  private nextId = 0;
  private nextOrder = 0;
  private advancing = false;

  /** Starts at `clock`'s time (a fresh ManualClock by default); share one ManualClock to keep other readers in step. */
  constructor(readonly clock: ManualClock = new ManualClock()) {}

  /** The manual clock's time in nanoseconds since the Unix epoch. */
  nowNs(): bigint {
    return this.clock.nowNs();
  }

  /** The manual clock's time in milliseconds since the Unix epoch. */
  nowMs(): number {
    return this.clock.nowMs();
  }

  /** Fires `fn` once the clock has advanced by `ms` (at least 1 ms). */
  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, delayNs(ms), null);
  }

  /** Fires `fn` every `ms` (at least 1 ms); after a jump() it fires once, late, then every `ms` from then on, as Node does. */
  setInterval(fn: () => void, ms: number): Timer {
    const period = delayNs(ms);
    return this.add(fn, period, period);
  }

  /** Timers set and not yet fired or cancelled (an interval counts until cancelled). */
  pending(): number {
    return this.timers.size;
  }

  /**
   * Moves the clock forward by `ms`, firing every timer that falls due on the way, in order of due time;
   * the clock reads each timer's due time while it runs. Timers set by those callbacks fire too if they
   * fall due within the same `ms`. Between timers the real event loop turns once, so `await` chains
   * started by a timer proceed before the next one fires. Rejects if a callback throws.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`ManualTime.advance: ${ms} ms is not a duration`);
    if (this.advancing) throw new RuntimeError("RUNTIME_INVARIANT", "ManualTime.advance is already running: await it before advancing again");
    this.advancing = true;
    try {
      const targetNs = this.clock.nowNs() + BigInt(Math.round(ms * 1_000_000));
      await settle();
      for (let t = this.due(targetNs); t; t = this.due(targetNs)) {
        const [id, p] = t;
        if (p.dueNs > this.clock.nowNs()) this.clock.advanceNs(p.dueNs - this.clock.nowNs());
        if (p.periodNs === null) this.timers.delete(id);
        else Object.assign(p, { dueNs: this.clock.nowNs() + p.periodNs, order: this.nextOrder++ });
        p.fn();
        await settle();
      }
      if (targetNs > this.clock.nowNs()) this.clock.advanceNs(targetNs - this.clock.nowNs());
    } finally {
      this.advancing = false;
    }
  }

  /**
   * Moves the clock forward by `ms` without firing anything, like a suspended process or a stalled
   * event loop: timers that fell due fire, late, on the next advance().
   */
  jump(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualTime.jump: ${ms} ms is not a duration`);
    this.clock.advanceMs(ms);
  }

  private add(fn: () => void, inNs: bigint, periodNs: bigint | null): Timer {
    const id = this.nextId++;
    this.timers.set(id, { fn, dueNs: this.clock.nowNs() + inNs, periodNs, order: this.nextOrder++ });
    const timer: Timer = { cancel: () => void this.timers.delete(id), unref: () => timer };
    return timer;
  }

  /** The timer that fires next if it is due by `limitNs`. */
  private due(limitNs: bigint): [number, Pending] | undefined {
    let best: [number, Pending] | undefined;
    for (const e of this.timers) {
      const p = e[1];
      if (p.dueNs > limitNs) continue;
      if (!best || p.dueNs < best[1].dueNs || (p.dueNs === best[1].dueNs && p.order < best[1].order)) best = e;
    }
    return best;
  }
}
