import type { GpioBackend, GpioInput } from "./backend.js";

/**
 * An in-memory GPIO chip whose lines a test (or a bench without hardware) drives with set(). Only used
 * when the config says `backend: fake`; production mode refuses it (firmware/config/checks.ts).
 */
export class FakeGpioChip implements GpioBackend {
  readonly name = "fake";
  private readonly levels = new Map<number, 0 | 1>();
  private readonly watchers = new Map<number, Set<(level: 0 | 1) => void>>();

  /** Drives a line to a level; watchers see an edge only when the level changes. */
  set(line: number, level: 0 | 1): void {
    const before = this.levels.get(line) ?? 0;
    this.levels.set(line, level);
    if (before === level) return;
    for (const fn of [...(this.watchers.get(line) ?? [])]) fn(level);
  }

  level(line: number): 0 | 1 {
    return this.levels.get(line) ?? 0;
  }

  open(line: number, edge: "rising" | "falling" | "both"): GpioInput {
    return {
      read: () => this.level(line),
      watch: (fn) => {
        const filtered = (level: 0 | 1) => {
          if (edge === "both" || (edge === "rising" ? level === 1 : level === 0)) fn(level);
        };
        const set = this.watchers.get(line) ?? new Set();
        set.add(filtered);
        this.watchers.set(line, set);
        return () => set.delete(filtered);
      },
      close: () => undefined,
    };
  }
}

/** One shared fake chip per process, so a test can reach the chip a config-built source uses. */
export const sharedFakeChip = new FakeGpioChip();
