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

/** The last protocol address of every table (addresses are 16 bits). */
export const LAST_ADDRESS = 65535;

/** A register-map entry that cannot be read as configured: `index` into the specs, and why. */
export interface RegisterMapProblem {
  index: number;
  message: string;
}

/**
 * The entries of one device's register map that the planner cannot read as meant: a multi-register
 * value running past the last address (a float32 at 65535 would need 65536), and values of one table
 * whose registers overlap (a float32 at 100 covers 100–101, so an int16 at 101 would decode half of
 * it). Exact duplicates (same table and register) are the config check's own problem, not repeated here.
 */
export function registerMapProblems(specs: readonly RegisterSpec[]): RegisterMapProblem[] {
  const out: RegisterMapProblem[] = [];
  const spans = specs.map((spec, index) => ({ spec, index, first: spec.register, last: spec.register + width(spec) - 1 }));
  for (const s of spans) {
    if (s.last > LAST_ADDRESS) {
      out.push({
        index: s.index,
        message: `a ${s.spec.type ?? "uint16"} at ${s.spec.table}/${s.first} needs registers ${s.first}–${s.last}, past the last address ${LAST_ADDRESS}; ` +
          `check the register number in the device's manual (a 1-based number is one more than the protocol address)`,
      });
    }
  }
  for (const table of TABLES) {
    const sorted = spans.filter((s) => s.spec.table === table).sort((a, b) => a.first - b.first || a.index - b.index);
    let cover: (typeof spans)[number] | undefined;
    for (const s of sorted) {
      if (cover && s.first <= cover.last && s.first !== cover.first) {
        const [later, earlier] = s.index > cover.index ? [s, cover] : [cover, s];
        out.push({
          index: later.index,
          message: `${later.spec.table}/${later.first}–${later.last} (${later.spec.type ?? "uint16"}) overlaps ${earlier.spec.table}/${earlier.first}–${earlier.last} ` +
            `(${earlier.spec.type ?? "uint16"}) at registers/${earlier.index}; a register belongs to one value: fix the register or the type of one of them`,
        });
      }
      if (!cover || s.last > cover.last) cover = s;
    }
  }
  return out.sort((a, b) => a.index - b.index);
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
