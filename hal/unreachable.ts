import type { RawReading } from "./source.js";

/**
 * "Source unreachable" looks the same on every adapter (docs/adapters.md): while a source cannot reach
 * its device or server, each mapped address gets a reading with `value: null`, `quality: bad` and the
 * detail `<adapter family>-unreachable` (`modbus-unreachable`, `opcua-unreachable`), so the receiver
 * tells a dead server from a point that simply has not changed. The good reading after recovery ends it.
 */
export function unreachableDetail(family: string): `${string}-unreachable` {
  return `${family}-unreachable`;
}

/** One bad reading per address, stamped with the gateway clock (the source sent nothing to stamp). */
export function unreachableReadings(addresses: readonly string[], tsNs: bigint, family: string): RawReading[] {
  const qualityDetail = unreachableDetail(family);
  return addresses.map((address) => ({ address, value: null, sourceTsNs: tsNs, quality: "bad", qualityDetail }));
}
