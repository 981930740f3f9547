import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeBit, decodeRegisters, encodeRegisters, registerCount, REGISTER_TYPES } from "../../hal/modbus/decode.js";
import { decodeResponse, parseModbusAddress, planRequests, MAX_REGISTERS } from "../../hal/modbus/plan.js";
import { classifyModbusError } from "../../hal/modbus/quality.js";

const bytes = (...words: number[]) => Buffer.from(words.flatMap((w) => [w >> 8, w & 0xff]));

void test("float32 123.456 (0x42F6E979) in all four byte/word orders", () => {
  const cases = [
    { byteOrder: "big", wordOrder: "big", regs: [0x42f6, 0xe979] }, // ABCD
    { byteOrder: "big", wordOrder: "little", regs: [0xe979, 0x42f6] }, // CDAB
    { byteOrder: "little", wordOrder: "big", regs: [0xf642, 0x79e9] }, // BADC
    { byteOrder: "little", wordOrder: "little", regs: [0x79e9, 0xf642] }, // DCBA
  ] as const;
  for (const c of cases) {
    const v = decodeRegisters(bytes(...c.regs), 0, "float32", c.byteOrder, c.wordOrder);
    assert.ok(Math.abs(v - 123.456) < 1e-4, `${c.byteOrder}/${c.wordOrder}: ${v}`);
    assert.deepEqual(encodeRegisters(Math.fround(123.456), "float32", c.byteOrder, c.wordOrder), c.regs);
  }
});

void test("integer types: sign, width and offset within the response", () => {
  const b = bytes(0x0000, 0xfffe, 0x8000, 0x0001, 0xe240, 0xffff, 0xffff);
  assert.equal(decodeRegisters(b, 1, "int16"), -2);
  assert.equal(decodeRegisters(b, 1, "uint16"), 65534);
  assert.equal(decodeRegisters(b, 2, "int16"), -32768);
  assert.equal(decodeRegisters(b, 3, "uint32"), 123456);
  assert.equal(decodeRegisters(b, 3, "uint32", "big", "little"), 0xe2400001);
  assert.equal(decodeRegisters(b, 5, "int32"), -1);
  assert.equal(decodeRegisters(b, 5, "uint32"), 0xffffffff);
  assert.equal(decodeRegisters(bytes(0x1234), 0, "uint16", "little"), 0x3412);
});

void test("float64 known pattern (pi = 0x400921FB54442D18) and word-swapped", () => {
  assert.equal(decodeRegisters(bytes(0x4009, 0x21fb, 0x5444, 0x2d18), 0, "float64"), Math.PI);
  assert.equal(decodeRegisters(bytes(0x2d18, 0x5444, 0x21fb, 0x4009), 0, "float64", "big", "little"), Math.PI);
  for (const t of REGISTER_TYPES) {
    const v = t.startsWith("float") ? -1.5 : t.startsWith("u") ? 7 : -7;
    assert.equal(decodeRegisters(bytes(...encodeRegisters(v, t, "little", "little")), 0, t, "little", "little"), v, t);
    assert.equal(encodeRegisters(v, t).length, registerCount(t));
  }
});

void test("truncated data throws RangeError instead of reading past the end", () => {
  assert.throws(() => decodeRegisters(bytes(0x42f6), 0, "float32"), RangeError);
  assert.throws(() => decodeRegisters(Buffer.from([0x42, 0xf6, 0xe9]), 0, "float32"), RangeError);
  assert.throws(() => decodeRegisters(bytes(1, 2), 2, "uint16"), RangeError);
  assert.throws(() => decodeBit(Buffer.from([0xff]), 8), RangeError);
});

void test("bits are packed LSB first", () => {
  const b = Buffer.from([0b0000_1001, 0b1000_0000]);
  assert.deepEqual([0, 1, 2, 3, 15].map((i) => decodeBit(b, i)), [true, false, false, true, true]);
});

void test("planRequests coalesces touching ranges per table, respects gaps and the 125-register limit", () => {
  const plan = planRequests(3, [
    { table: "hr", register: 100, type: "float32" }, // 100-101
    { table: "hr", register: 102 }, // touches
    { table: "hr", register: 104 }, // one unmapped register (103) between
    { table: "ir", register: 0 },
    { table: "co", register: 5 },
    { table: "co", register: 6 },
  ]);
  assert.deepEqual(plan.map((r) => [r.table, r.start, r.count]), [["co", 5, 2], ["hr", 100, 3], ["hr", 104, 1], ["ir", 0, 1]]);
  assert.deepEqual(planRequests(3, [{ table: "hr", register: 100 }, { table: "hr", register: 104 }], 3).map((r) => [r.start, r.count]), [[100, 5]]);
  const many = Array.from({ length: 130 }, (_, i) => ({ table: "hr" as const, register: i }));
  assert.deepEqual(planRequests(1, many).map((r) => r.count), [MAX_REGISTERS, 5]);
  const hr = plan[1]!;
  assert.deepEqual(hr.items.map((i) => [i.address, i.offset]), [["unit/3/hr/100", 0], ["unit/3/hr/102", 2]]);
  assert.deepEqual(decodeResponse(hr, bytes(0x42f6, 0xe979, 7)).map((v) => v.address), ["unit/3/hr/100", "unit/3/hr/102"]);
  assert.throws(() => decodeResponse(hr, bytes(0x42f6, 0xe979)), RangeError);
});

void test("addresses parse and errors classify", () => {
  assert.deepEqual(parseModbusAddress("unit/3/hr/100"), { unitId: 3, table: "hr", register: 100 });
  assert.equal(parseModbusAddress("unit/300/hr/1"), null);
  assert.equal(parseModbusAddress("unit/3/xx/1"), null);
  assert.equal(classifyModbusError(Object.assign(new Error("Modbus exception 2"), { modbusCode: 2 })).detail, "modbus-exception:2");
  assert.equal(classifyModbusError({ name: "TransactionTimedOutError", message: "Timed out", errno: "ETIMEDOUT" }).detail, "modbus-timeout");
  assert.equal(classifyModbusError(new Error("CRC error")).detail, "modbus-bad-frame");
  assert.equal(classifyModbusError(new RangeError("short")).detail, "modbus-bad-frame");
  assert.equal(classifyModbusError({ message: "Port Not Open", errno: "ECONNREFUSED" }).detail, "modbus-unreachable");
});
