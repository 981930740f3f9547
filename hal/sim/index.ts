/** The simulated plant: a pure model, a timer-free generator and a `Source` (docs/records.md: sim://). */
export { SimSource, type SimSourceOptions } from "./source.js";
export { plantValues, sampleAt, SIGNAL_UNITS, type SimModel, type SimSample, type SimAssetSpec, type SimFaultSpec } from "./model.js";
export { simReadings, generateSamples, readingsAtTick, simAddresses, tickPeriodMs, type GenerateOptions, type GeneratedReading } from "./generate.js";
export { mulberry32, fnv1a } from "./prng.js";
