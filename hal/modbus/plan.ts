import { decodeBit, decodeRegisters, isBitTable, registerCount, TABLES, type ByteOrder, type RegisterType, type Table } from "./decode.js";

/** One configured point of a device's register map. */
export interface RegisterSpec {
  table: Table;
  /** 0-based protocol (PDU) address; mbpoll's -r is this + 1 unless -0 is given. */
  register: number;
  /** Register tables only; bit tables are always boolean. Default uint16. */
  type?: RegisterType;
  byteOrder?: ByteOrder;
  wordOrder?: ByteOrder;
}

/** One read request covering several configured points of one table. */
export interface ReadRequest {
  table: Table;
  start: number;
  count: number;
  items: { spec: RegisterSpec; address: string; offset: number }[];
}

/** Protocol limits per request (Modbus spec 6.1–6.4). */
export const MAX_REGISTERS = 125;
export const MAX_BITS = 2000;

/** `unit/<id>/<table>/<register>`: the address of a point in config and in its source URI. */
export function modbusAddress(unitId: number, spec: Pick<RegisterSpec, "table" | "register">): string {
  return `unit/${unitId}/${spec.table}/${spec.register}`;
}

const ADDRESS = /^unit\/(\d{1,3})\/(co|di|hr|ir)\/(\d{1,5})$/;

/** Parses `unit/<id>/<table>/<register>`, or null when the text is not one. */
export function parseModbusAddress(address: string): { unitId: number; table: Table; register: number } | null {
  const m = ADDRESS.exec(address);
  if (!m) return null;
  const unitId = Number(m[1]);
  const register = Number(m[3]);
  if (unitId > 255 || register > 65535) return null;
  return { unitId, table: m[2] as Table, register };
}

function width(spec: RegisterSpec): number {
  return isBitTable(spec.table) ? 1 : registerCount(spec.type ?? "uint16");
}

/**
 * Coalesces a device's register map into as few requests as possible: points of one table whose ranges
 * touch (or are at most `maxGap` registers apart) are read in one request, up to the protocol limit.
 * The default gap is 0 because reading registers nobody mapped can make a device answer with
 * exception 2 for the whole request.
 */
export function planRequests(unitId: number, specs: readonly RegisterSpec[], maxGap = 0): ReadRequest[] {
  const out: ReadRequest[] = [];
  for (const table of TABLES) {
    const limit = isBitTable(table) ? MAX_BITS : MAX_REGISTERS;
    const sorted = specs.filter((s) => s.table === table).sort((a, b) => a.register - b.register);
    let cur: ReadRequest | null = null;
    for (const spec of sorted) {
      const end = spec.register + width(spec);
      if (cur && spec.register <= cur.start + cur.count + maxGap && end - cur.start <= limit) {
        cur.count = Math.max(cur.count, end - cur.start);
      } else {
        cur = { table, start: spec.register, count: end - spec.register, items: [] };
        out.push(cur);
      }
      cur.items.push({ spec, address: modbusAddress(unitId, spec), offset: spec.register - cur.start });
    }
  }
  return out;
}

/** Decodes every item of a request from the response's data bytes; a short response throws RangeError. */
export function decodeResponse(req: ReadRequest, bytes: Uint8Array): { address: string; value: number | boolean }[] {
  return req.items.map(({ spec, address, offset }) => ({
    address,
    value: isBitTable(req.table)
      ? decodeBit(bytes, offset)
      : decodeRegisters(bytes, offset, spec.type ?? "uint16", spec.byteOrder ?? "big", spec.wordOrder ?? "big"),
  }));
}
