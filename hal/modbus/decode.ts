/**
 * Modbus register decoding, apart from polling (STYLE 9): pure functions from the bytes of a response
 * to typed values. Modbus sends each 16-bit register big-endian ("AB"); devices disagree on the order
 * of bytes inside a register and of registers inside a multi-register value, so both are configurable:
 *
 * | byteOrder | wordOrder | float32 123.456 (0x42F6E979) as registers | common name |
 * |---|---|---|---|
 * | big    | big    | 0x42F6 0xE979 | ABCD (Modbus default) |
 * | big    | little | 0xE979 0x42F6 | CDAB (word swap: many PLCs, mbpoll's default) |
 * | little | big    | 0xF642 0x79E9 | BADC |
 * | little | little | 0x79E9 0xF642 | DCBA |
 */

export const REGISTER_TYPES = ["int16", "uint16", "int32", "uint32", "float32", "float64"] as const;
export type RegisterType = (typeof REGISTER_TYPES)[number];
export type ByteOrder = "big" | "little";

/** The four Modbus tables, by their short names in addresses and URIs. */
export const TABLES = ["co", "di", "hr", "ir"] as const;
export type Table = (typeof TABLES)[number];

/** Bit tables (coils, discrete inputs) hold booleans; register tables hold 16-bit words. */
export function isBitTable(t: Table): boolean {
  return t === "co" || t === "di";
}

/** Number of 16-bit registers a value of this type occupies. */
export function registerCount(type: RegisterType): number {
  switch (type) {
    case "int16":
    case "uint16":
      return 1;
    case "int32":
    case "uint32":
    case "float32":
      return 2;
    case "float64":
      return 4;
  }
}

/**
 * Decodes one value from `bytes` (the response data, two bytes per register as on the wire) starting at
 * register `offset`. Throws RangeError when the bytes are too short (a truncated response), never
 * returns garbage past the end.
 */
export function decodeRegisters(bytes: Uint8Array, offset: number, type: RegisterType, byteOrder: ByteOrder = "big", wordOrder: ByteOrder = "big"): number {
  const n = registerCount(type);
  const start = offset * 2;
  if (offset < 0 || start + n * 2 > bytes.length) {
    throw new RangeError(`need ${n} register(s) at offset ${offset}, response has ${Math.floor(bytes.length / 2)}`);
  }
  // Normalize to big-endian (ABCD...) order, then read with DataView.
  const buf = new Uint8Array(n * 2);
  for (let w = 0; w < n; w++) {
    const src = start + (wordOrder === "big" ? w : n - 1 - w) * 2;
    const hi = bytes[src]!;
    const lo = bytes[src + 1]!;
    buf[w * 2] = byteOrder === "big" ? hi : lo;
    buf[w * 2 + 1] = byteOrder === "big" ? lo : hi;
  }
  const dv = new DataView(buf.buffer);
  switch (type) {
    case "int16":
      return dv.getInt16(0);
    case "uint16":
      return dv.getUint16(0);
    case "int32":
      return dv.getInt32(0);
    case "uint32":
      return dv.getUint32(0);
    case "float32":
      return dv.getFloat32(0);
    case "float64":
      return dv.getFloat64(0);
  }
}

/** The inverse of decodeRegisters, for tests and simulated devices: the registers of one value. */
export function encodeRegisters(value: number, type: RegisterType, byteOrder: ByteOrder = "big", wordOrder: ByteOrder = "big"): number[] {
  const n = registerCount(type);
  const buf = new Uint8Array(n * 2);
  const dv = new DataView(buf.buffer);
  switch (type) {
    case "int16":
      dv.setInt16(0, value);
      break;
    case "uint16":
      dv.setUint16(0, value);
      break;
    case "int32":
      dv.setInt32(0, value);
      break;
    case "uint32":
      dv.setUint32(0, value);
      break;
    case "float32":
      dv.setFloat32(0, value);
      break;
    case "float64":
      dv.setFloat64(0, value);
      break;
  }
  const words: number[] = [];
  for (let w = 0; w < n; w++) {
    const src = (wordOrder === "big" ? w : n - 1 - w) * 2;
    const hi = buf[src]!;
    const lo = buf[src + 1]!;
    words.push(byteOrder === "big" ? (hi << 8) | lo : (lo << 8) | hi);
  }
  return words;
}

/**
 * Bit `offset` of a coil/discrete-input response: bits are packed LSB first, eight per byte
 * (Modbus spec 6.1). Throws RangeError past the end of the data.
 */
export function decodeBit(bytes: Uint8Array, offset: number): boolean {
  const byte = Math.floor(offset / 8);
  if (offset < 0 || byte >= bytes.length) throw new RangeError(`bit ${offset} is past the ${bytes.length}-byte response`);
  return ((bytes[byte]! >> (offset % 8)) & 1) === 1;
}
