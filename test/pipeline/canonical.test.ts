import { test } from "node:test";
import assert from "node:assert/strict";
import type { NormalizedRecord } from "../../kernel/record.js";
import { canonicalJson } from "../../firmware/pipeline/canonical.js";
import { encodeRecord, recordJson } from "../../firmware/pipeline/encode.js";
import { mulberry32 } from "../../hal/sim/prng.js";

/** Deterministic PRNG (the simulator's mulberry32), so a failure names a reproducible case. */
const prng = mulberry32;

// Characters JSON escapes or that need more than one UTF-8 byte: quotes, backslash, controls, DEL,
// Latin-1, U+2028/2029, BMP CJK, an astral pair, lone surrogates (well-formed JSON.stringify escapes them).
const TRICKY = ['"', "\\", "/", "\n", "\r", "\t", "\b", "\f", "\u0000", "\u001f", "\u007f", "é", "ß", "\u00a0", "\u2028", "\u2029", "温度", "😀", "\ud83d", "\ude00", "\ufeff", " "];
const NUMBERS = [
  0, -0, 1, -1, 0.1, -0.5, 21.5, 1e21, 1e-7, -1e-7, 123456789.123, 2 ** 53, 2 ** 53 + 2, -(2 ** 53) - 2, Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, 1 / 3, 4.35, 1e300 * 10 / 10,
];

function str(rnd: () => number, maxLen = 12): string {
  const n = Math.floor(rnd() * maxLen);
  let s = "";
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.3) s += TRICKY[Math.floor(rnd() * TRICKY.length)] ?? "";
    else if (r < 0.4) s += String.fromCharCode(Math.floor(rnd() * 0x10000));
    else s += String.fromCharCode(0x20 + Math.floor(rnd() * 95));
  }
  return s;
}

function value(rnd: () => number): NormalizedRecord["value"] {
  const r = rnd();
  if (r < 0.4) return NUMBERS[Math.floor(rnd() * NUMBERS.length)] ?? 0;
  if (r < 0.6) return (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20);
  if (r < 0.7) return rnd() < 0.5;
  if (r < 0.8) return null;
  return str(rnd);
}

function record(rnd: () => number): NormalizedRecord {
  const ts = (): string => String(Math.floor(rnd() * 2 ** 53)) + String(Math.floor(rnd() * 1000));
  return {
    point: str(rnd), stream: str(rnd), value: value(rnd), unit: str(rnd, 4),
    quality: (["good", "uncertain", "bad"] as const)[Math.floor(rnd() * 3)] ?? "good",
    qualityDetail: rnd() < 0.5 ? null : str(rnd), sourceTsNs: ts(), gatewayTsNs: ts(),
    lineage: {
      gatewayId: str(rnd), adapter: str(rnd), sourceUri: str(rnd, 40), deviceId: str(rnd),
      calibrationId: rnd() < 0.5 ? null : str(rnd), transformRuleId: str(rnd), transformRuleSha256: str(rnd, 64),
    },
  };
}

function reorder<T extends object>(o: T, rnd: () => number, how: number): T {
  const e = Object.entries(o);
  if (how === 1) e.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  else if (how === 2) e.reverse();
  else if (how === 3) e.sort(() => rnd() - 0.5);
  return Object.fromEntries(e) as T;
}

/** Same string from both, or both throw. */
function same(r: unknown, what: string): void {
  let expected: string | Error;
  try {
    expected = canonicalJson(r);
  } catch (err) {
    expected = err as Error;
  }
  if (expected instanceof Error) {
    assert.throws(() => recordJson(r as NormalizedRecord), { name: expected.name, message: expected.message }, what);
    return;
  }
  assert.equal(recordJson(r as NormalizedRecord), expected, what);
  assert.deepEqual(encodeRecord(r as NormalizedRecord), Buffer.from(expected, "utf8"), what);
}

void test("recordJson/encodeRecord: byte-identical to canonicalJson on 20 000 varied records", () => {
  const rnd = prng(0x07c0ffee);
  for (let i = 0; i < 20_000; i++) {
    const base = record(rnd);
    const how = i % 4;
    const r = { ...reorder(base, rnd, how), lineage: reorder(base.lineage, rnd, (i >> 2) % 4) };
    same(r, `case ${i}`);
  }
});

void test("recordJson: every listed number, character and null/string choice, in built and sorted key order", () => {
  const rnd = prng(7);
  const base = record(rnd);
  for (const v of [...NUMBERS, true, false, null, "", ...TRICKY]) {
    for (const how of [0, 1]) {
      same(reorder({ ...base, value: v }, rnd, how), `value ${String(v)}`);
      same(reorder({ ...base, qualityDetail: typeof v === "string" ? v : null, lineage: { ...base.lineage, calibrationId: null } }, rnd, how), `detail ${String(v)}`);
    }
  }
  for (const c of TRICKY) {
    same({ ...base, point: c, lineage: { ...base.lineage, sourceUri: `opc.tcp://h/${c}`, deviceId: c + c } }, `char ${JSON.stringify(c)}`);
  }
  // -0 is written as 0 by both.
  assert.equal((JSON.parse(recordJson({ ...base, value: -0 })) as NormalizedRecord).value, 0);
});

void test("recordJson: shapes outside the record fall back to canonicalJson (and throw where it throws)", () => {
  const base = record(prng(11));
  const odd: unknown[] = [
    { ...base, extra: 1 },
    { ...base, value: undefined },
    { ...base, qualityDetail: undefined },
    { ...base, lineage: { ...base.lineage, calibrationId: undefined } },
    { ...base, lineage: { ...base.lineage, extra: "x" } },
    { ...base, lineage: [1, 2] },
    { ...base, value: [1, { b: 2, a: 1 }] },
    { ...base, value: { z: 1, a: "é" } },
    { ...base, sourceTsNs: 5 },
    { ...base, point: null },
    { ...base, value: Number.NaN },
    { ...base, value: Number.POSITIVE_INFINITY },
    { ...base, value: 10n },
    { ...base, lineage: { ...base.lineage, gatewayId: 1n } },
    Object.fromEntries(Object.entries(base).filter(([k]) => k !== "unit")),
  ];
  for (const [i, r] of odd.entries()) same(r, `odd shape ${i}`);
  assert.throws(() => recordJson({ ...base, value: Number.NaN }), /non-finite/);
});
