import type { Quality } from "../../kernel/record.js";

/** The parts of an OPC UA DataValue the mapping needs (node-opcua's DataValue has them). */
export interface DataValueLike {
  statusCode: { value: number; name: string };
  sourceTimestamp: Date | null;
  /** node-opcua: picoseconds past the millisecond of sourceTimestamp (100 ns ticks and 10 ps units). */
  sourcePicoseconds: number;
  value: { value: unknown };
}

/** OPC UA severity bits (Part 4, 7.34): 00 good, 01 uncertain, 10/11 bad. */
export function qualityOf(status: { value: number }): Quality {
  const severity = (status.value >>> 30) & 0x3;
  return severity === 0 ? "good" : severity === 1 ? "uncertain" : "bad";
}

/**
 * Source timestamp in ns since the epoch with the picoseconds kept (to the ns): ms × 1e6 + ps / 1000.
 * Falls back to `fallbackNs` (the gateway clock) when the server sent no source timestamp.
 */
export function sourceTsNs(dv: Pick<DataValueLike, "sourceTimestamp" | "sourcePicoseconds">, fallbackNs: bigint): bigint {
  const t = dv.sourceTimestamp?.getTime();
  if (t === undefined || !Number.isFinite(t) || t <= 0) return fallbackNs;
  return BigInt(t) * 1_000_000n + BigInt(Math.floor((dv.sourcePicoseconds || 0) / 1000));
}

/** A scalar the record can carry, or undefined for shapes it cannot (arrays, structures). */
export function scalarOf(v: unknown): number | boolean | string | undefined {
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  // node-opcua delivers Int64/UInt64 as [high, low].
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number")) return (v[0] as number) * 2 ** 32 + (v[1] as number);
  return undefined;
}

/** The raw reading fields of a DataValue: Bad carries no value; Uncertain keeps it with its status name. */
export function readingOf(dv: DataValueLike, fallbackNs: bigint): { value: number | boolean | string | null; quality: Quality; qualityDetail: string | null; sourceTsNs: bigint } {
  const quality = qualityOf(dv.statusCode);
  const ts = sourceTsNs(dv, fallbackNs);
  if (quality === "bad") return { value: null, quality, qualityDetail: `opcua:${dv.statusCode.name}`, sourceTsNs: ts };
  const value = scalarOf(dv.value.value);
  if (value === undefined) return { value: null, quality: "bad", qualityDetail: "opcua:UnsupportedValueType", sourceTsNs: ts };
  return { value, quality, qualityDetail: quality === "good" ? null : `opcua:${dv.statusCode.name}`, sourceTsNs: ts };
}
