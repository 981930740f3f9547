import type { Quality } from "../kernel/record.js";

/**
 * One raw reading as an adapter delivers it, before normalization. The address is adapter-specific
 * (an OPC UA node id, "unit/3/hr/100" for Modbus, a GPIO line, "pump1/vibration_rms" for the simulator);
 * the point mapping in the config turns it into a named point with lineage.
 */
export interface RawReading {
  /** Adapter-specific address of the point, as configured. */
  address: string;
  /** Raw value (before the transform rule); null when the source had none (dropout, bad quality). */
  value: number | boolean | string | null;
  /** When the source says it measured the value, ns since epoch. */
  sourceTsNs: bigint;
  quality: Quality;
  /** Source-specific quality detail, e.g. "modbus-exception:2", or null when good. */
  qualityDetail: string | null;
}

export type ReadingSink = (reading: RawReading) => void;

export interface SourceHealth {
  state: "stopped" | "starting" | "running" | "degraded" | "failed";
  /** What is wrong, in words a technician can act on, when not running. */
  detail: string | null;
  readings: number;
  errors: number;
}

/**
 * Every hardware kind (simulator, OPC UA, Modbus TCP/RTU, GPIO) sits behind this shape. The constructor
 * does nothing; start() connects and begins delivering readings to the sink; stop() ends cleanly, and
 * start() may be called again after stop().
 */
export interface Source {
  /** Source id from the config. */
  readonly id: string;
  /** Adapter kind written into lineage ("sim", "opcua", "modbus-tcp", "modbus-rtu", "gpio"). */
  readonly adapter: string;
  /** Stable provenance URI of an address at this source (e.g. "sim://plant/pump1/vibration_rms"). */
  uriFor(address: string): string;
  /** The addresses this source will deliver, as configured. */
  addresses(): readonly string[];
  /** Begin delivering readings; resolves once the source is delivering (or has failed visibly). */
  start(sink: ReadingSink): Promise<void>;
  /** Stop delivering; resolves when no more readings will arrive. */
  stop(): Promise<void>;
  health(): SourceHealth;
}

/** A tamper input (e.g. an enclosure switch) changed state: the gateway writes it to the audit log. */
export interface TamperEvent {
  sourceId: string;
  line: number;
  uri: string;
  /** Logical state: true = the input reports "open/tampered". */
  active: boolean;
  tsNs: bigint;
}

/** A source that has tamper inputs (today: GPIO lines flagged `tamper`). */
export interface TamperReporter {
  /** Calls `fn` at start and on every change of a tamper input; returns an unsubscribe function. */
  onTamper(fn: (e: TamperEvent) => void): () => void;
}

/** Lets the runtime wire tamper inputs into the audit log without importing any adapter's code. */
export function isTamperReporter(s: unknown): s is TamperReporter {
  return typeof (s as { onTamper?: unknown }).onTamper === "function";
}
