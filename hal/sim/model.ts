import type { Quality } from "../../kernel/record.js";
import type { FaultKind, SimAssetKind, SimSignal } from "./schema.js";
import { gaussian, streamAt } from "./prng.js";

/** An asset of the simulated plant. */
export interface SimAssetSpec {
  id: string;
  kind: SimAssetKind;
}

/** A fault injected into one signal of one asset for a time window (times relative to the origin). */
export interface SimFaultSpec {
  asset: string;
  signal: SimSignal;
  kind: FaultKind;
  startS: number;
  durationS: number;
  /** drift: signal units per second; spike: signal units added to a spiking sample; stuck/dropout: unused. */
  magnitude: number;
}

/** Everything the model needs: the same model and time always give the same sample. */
export interface SimModel {
  seed: number;
  assets: readonly SimAssetSpec[];
  faults: readonly SimFaultSpec[];
  /** Epoch ms that fault times (startS) count from: the source's first start. */
  originMs: number;
}

/** One simulated measurement, before normalization. */
export interface SimSample {
  value: number | null;
  quality: Quality;
  qualityDetail: string | null;
}

/** Engineering unit each signal is produced in (the transform rules in config should match). */
export const SIGNAL_UNITS: Readonly<Record<SimSignal, string>> = {
  vibration_rms: "mm/s",
  bearing_temp: "°C",
  motor_current: "A",
  discharge_pressure: "bar",
};

interface SignalShape {
  /** Nominal value at average load. */
  base: number;
  /** Fraction by which the load cycle moves the value. */
  loadGain: number;
  /** Standard deviation of measurement noise, in signal units. */
  noise: number;
}

// Nominal operating points for small industrial machines (ISO 10816 class II vibration zone A/B,
// bearing temperatures well under the ~90 °C alarm, currents for 7–30 kW motors at 400 V).
const SHAPES: Readonly<Record<SimAssetKind, Readonly<Record<SimSignal, SignalShape>>>> = {
  motor: {
    vibration_rms: { base: 1.8, loadGain: 0.15, noise: 0.08 },
    bearing_temp: { base: 52, loadGain: 0.06, noise: 0.15 },
    motor_current: { base: 28, loadGain: 0.2, noise: 0.4 },
    discharge_pressure: { base: 3.5, loadGain: 0.08, noise: 0.05 },
  },
  pump: {
    vibration_rms: { base: 2.8, loadGain: 0.2, noise: 0.12 },
    bearing_temp: { base: 46, loadGain: 0.05, noise: 0.15 },
    motor_current: { base: 16, loadGain: 0.25, noise: 0.3 },
    discharge_pressure: { base: 6.2, loadGain: 0.1, noise: 0.06 },
  },
  compressor: {
    vibration_rms: { base: 4.2, loadGain: 0.25, noise: 0.18 },
    bearing_temp: { base: 68, loadGain: 0.07, noise: 0.2 },
    motor_current: { base: 44, loadGain: 0.3, noise: 0.6 },
    discharge_pressure: { base: 7.8, loadGain: 0.12, noise: 0.08 },
  },
};

/** Load cycle period: a slow production rhythm every model signal follows. */
const LOAD_PERIOD_MS = 600_000;
/** Probability that a sample inside a spike window is a spike. */
const SPIKE_PROBABILITY = 0.3;

/**
 * The healthy value of a signal at time tMs (epoch ms): a per-asset operating point, a shared load
 * cycle and Gaussian measurement noise. Pure: the same (seed, asset, signal, tMs) always gives the same
 * value, whatever was computed before.
 */
export function plantValues(seed: number, asset: SimAssetSpec, signal: SimSignal, tMs: number): number {
  const shape = SHAPES[asset.kind][signal];
  const assetRng = streamAt(seed, `asset:${asset.id}`, 0);
  // Each asset sits a little off the nominal point and runs out of phase with the others.
  const offset = 1 + (assetRng() - 0.5) * 0.1;
  const phase = assetRng() * 2 * Math.PI;
  // Temperature follows load slowly; model that lag as a phase delay rather than state, to stay pure.
  const lag = signal === "bearing_temp" ? Math.PI / 3 : 0;
  const load = Math.sin((2 * Math.PI * tMs) / LOAD_PERIOD_MS + phase - lag);
  const noise = gaussian(streamAt(seed, `${asset.id}/${signal}`, tMs)) * shape.noise;
  const v = shape.base * offset * (1 + shape.loadGain * load) + noise;
  return round(Math.max(0, v));
}

/** The sample a (possibly faulty) sensor reports at tMs: the healthy value with active faults applied. */
export function sampleAt(model: SimModel, asset: SimAssetSpec, signal: SimSignal, tMs: number): SimSample {
  let value = plantValues(model.seed, asset, signal, tMs);
  for (const f of model.faults) {
    if (f.asset !== asset.id || f.signal !== signal) continue;
    const startMs = model.originMs + f.startS * 1000;
    if (tMs < startMs || tMs >= startMs + f.durationS * 1000) continue;
    switch (f.kind) {
      case "drift":
        value += (f.magnitude * (tMs - startMs)) / 1000;
        break;
      case "spike":
        if (streamAt(model.seed, `spike:${asset.id}/${signal}`, tMs)() < SPIKE_PROBABILITY) value += f.magnitude;
        break;
      case "stuck":
        value = plantValues(model.seed, asset, signal, startMs);
        break;
      case "dropout":
        return { value: null, quality: "bad", qualityDetail: "sim:dropout" };
    }
  }
  return { value: round(value), quality: "good", qualityDetail: null };
}

function round(v: number): number {
  // Four decimals: a realistic sensor resolution, and it keeps JSON short.
  return Math.round(v * 10_000) / 10_000;
}
