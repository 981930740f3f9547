import type { RawReading } from "../source.js";
import { SIM_SIGNALS, type SimSignal } from "./schema.js";
import { sampleAt, type SimAssetSpec, type SimFaultSpec, type SimModel } from "./model.js";

/** Options for producing samples without timers. */
export interface GenerateOptions {
  seed: number;
  assets: readonly SimAssetSpec[];
  faults?: readonly SimFaultSpec[];
  rateHz: number;
  /** Epoch ms of the first tick; also the origin fault times count from. */
  startMs: number;
}

/** A raw reading plus the coordinates that produced it (handy for tests and training sets). */
export interface GeneratedReading extends RawReading {
  asset: string;
  signal: SimSignal;
  tMs: number;
  tick: number;
}

/** Milliseconds between ticks at rateHz (ticks are at exact multiples from the origin). */
export function tickPeriodMs(rateHz: number): number {
  return 1000 / rateHz;
}

/** Every simulator address of these assets, "<asset>/<signal>", in a stable order. */
export function simAddresses(assets: readonly SimAssetSpec[]): string[] {
  return assets.flatMap((a) => SIM_SIGNALS.map((s) => `${a.id}/${s}`));
}

/** The readings of one tick: one per asset × signal. */
export function readingsAtTick(model: SimModel, rateHz: number, tick: number): GeneratedReading[] {
  const tMs = Math.round(model.originMs + tick * tickPeriodMs(rateHz));
  const out: GeneratedReading[] = [];
  for (const asset of model.assets) {
    for (const signal of SIM_SIGNALS) {
      const s = sampleAt(model, asset, signal, tMs);
      out.push({
        address: `${asset.id}/${signal}`,
        value: s.value,
        quality: s.quality,
        qualityDetail: s.qualityDetail,
        sourceTsNs: BigInt(tMs) * 1_000_000n,
        asset: asset.id,
        signal,
        tMs,
        tick,
      });
    }
  }
  return out;
}

/**
 * Yields readings tick after tick, forever or for `ticks` ticks, deterministically and without timers:
 * the same options always yield the same sequence (tests, and training data for the edge models).
 */
export function* simReadings(opts: GenerateOptions, ticks = Infinity): Generator<GeneratedReading> {
  const model: SimModel = { seed: opts.seed, assets: opts.assets, faults: opts.faults ?? [], originMs: opts.startMs };
  for (let tick = 0; tick < ticks; tick++) yield* readingsAtTick(model, opts.rateHz, tick);
}

/** The first `ticks` ticks of simReadings as an array (ticks × assets × 4 readings). */
export function generateSamples(opts: GenerateOptions, ticks: number): GeneratedReading[] {
  return [...simReadings(opts, ticks)];
}
