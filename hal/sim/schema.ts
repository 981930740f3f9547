import { Type, type Static } from "@sinclair/typebox";
import { IdT, strict } from "../../kernel/config-schema.js";

/**
 * The simulator's config fragment (`kind: sim`, docs/config.md "Simulated source"); firmware/config/schema.ts
 * puts it into the gateway schema's `sources`.
 */

export const SIM_ASSET_KINDS = ["motor", "pump", "compressor"] as const;
export const SIM_SIGNALS = ["vibration_rms", "bearing_temp", "motor_current", "discharge_pressure"] as const;
export const FAULT_KINDS = ["drift", "spike", "stuck", "dropout"] as const;

const AssetKind = Type.Union([Type.Literal("motor"), Type.Literal("pump"), Type.Literal("compressor")]);
const Signal = Type.Union([
  Type.Literal("vibration_rms"), Type.Literal("bearing_temp"), Type.Literal("motor_current"), Type.Literal("discharge_pressure"),
]);
const FaultKind = Type.Union([Type.Literal("drift"), Type.Literal("spike"), Type.Literal("stuck"), Type.Literal("dropout")]);

export const SimAsset = Type.Object({ id: IdT, kind: AssetKind }, strict);

export const SimFault = Type.Object({
  asset: IdT,
  signal: Signal,
  kind: FaultKind,
  /** Seconds after the source first starts (or after the generator's start time). */
  startS: Type.Number({ minimum: 0 }),
  durationS: Type.Number({ exclusiveMinimum: 0 }),
  /** drift: signal units per second; spike: signal units added; stuck/dropout: unused. */
  magnitude: Type.Number({ default: 0 }),
}, strict);

export const SimSourceConfig = Type.Object({
  id: IdT,
  kind: Type.Literal("sim"),
  seed: Type.Integer({ minimum: 0, maximum: 0xffffffff }),
  rateHz: Type.Number({ exclusiveMinimum: 0, maximum: 1000, default: 1 }),
  assets: Type.Array(SimAsset, { minItems: 1 }),
  faults: Type.Array(SimFault, { default: [] }),
}, strict);

export type SimSourceConfig = Static<typeof SimSourceConfig>;
export type SimAsset = Static<typeof SimAsset>;
export type SimFault = Static<typeof SimFault>;
export type SimAssetKind = (typeof SIM_ASSET_KINDS)[number];
export type SimSignal = (typeof SIM_SIGNALS)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];
