import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "../../kernel/clock.js";
import type { NormalizedRecord } from "../../kernel/record.js";
import { applyRule, Normalizer, transformRuleSha256 } from "../../firmware/pipeline/normalize.js";
import { Validator } from "../../firmware/pipeline/validate.js";
import { Quarantine } from "../../firmware/pipeline/quarantine.js";
import { decodeRecord, encodeRecord } from "../../firmware/pipeline/encode.js";
import { canonicalJson, sha256Hex } from "../../firmware/pipeline/canonical.js";
import { generateSamples, SimSource } from "../../hal/sim/index.js";
import type { RawReading } from "../../hal/source.js";
import { testConfig } from "./helpers.js";

const T0 = 1_700_000_000_000;
const raw = (value: RawReading["value"], address = "pump1/vibration_rms"): RawReading => ({
  address, value, sourceTsNs: BigInt(T0) * 1_000_000n, quality: "good", qualityDetail: null,
});
const simOf = (clock: ManualClock) => new SimSource({ id: "plant", seed: 42, rateHz: 10, assets: [{ id: "pump1", kind: "pump" }], faults: [] }, clock);

void test("normalize: full lineage, transform applied, ns timestamps as decimal strings", () => {
  const { config } = testConfig((c) => {
    c.transforms[0] = { id: "vib-mm-s-v1", scale: 25.4, offset: 0.5, unit: "mm/s" };
  });
  const clock = new ManualClock(T0 + 250);
  const n = new Normalizer(config, clock);
  const r = n.normalize(simOf(clock), raw(2));
  assert.ok(r);
  assert.equal(r.value, 2 * 25.4 + 0.5);
  assert.equal(r.unit, "mm/s");
  assert.equal(r.sourceTsNs, "1700000000000000000");
  assert.equal(r.gatewayTsNs, "1700000000250000000");
  assert.deepEqual(r.lineage, {
    gatewayId: "gw-test", adapter: "sim", sourceUri: "sim://plant/pump1/vibration_rms", deviceId: "SN-ACC-2001",
    calibrationId: "CAL-7", transformRuleId: "vib-mm-s-v1",
    transformRuleSha256: sha256Hex('{"id":"vib-mm-s-v1","offset":0.5,"scale":25.4,"unit":"mm/s"}'),
  });
});

void test("the rule hash changes when the rule changes, and not when only defaults are spelled out", () => {
  const base = { id: "r", scale: 1, offset: 0, unit: "mm/s" };
  const h = transformRuleSha256(base);
  assert.notEqual(transformRuleSha256({ ...base, scale: 1.0001 }), h);
  assert.notEqual(transformRuleSha256({ ...base, offset: 1 }), h);
  assert.notEqual(transformRuleSha256({ ...base, unit: "in/s" }), h);
  const implicit = testConfig((c) => { c.transforms[0] = { id: "vib-mm-s-v1", unit: "mm/s" }; }).config;
  const explicit = testConfig().config;
  const clock = new ManualClock(T0);
  const a = new Normalizer(implicit, clock).normalize(simOf(clock), raw(1));
  const b = new Normalizer(explicit, clock).normalize(simOf(clock), raw(1));
  assert.equal(a?.lineage.transformRuleSha256, b?.lineage.transformRuleSha256);
});

void test("decimals: 1243 × 0.1 is exactly 124.3 after rounding, half away from zero; the rule hash records the rounding", () => {
  const tenths = { id: "bar-tenths-v1", scale: 0.1, offset: 0, unit: "bar" };
  assert.equal(applyRule(tenths, 1243), 124.30000000000001, "the float noise the option exists for");
  const rounded = { ...tenths, decimals: 1 };
  assert.equal(applyRule(rounded, 1243), 124.3);
  assert.equal(applyRule(rounded, -1243), -124.3);
  assert.equal(applyRule({ ...tenths, scale: 0.01, decimals: 2 }, 12345), 123.45);
  assert.equal(applyRule({ ...tenths, scale: 1, decimals: 0 }, 2.5), 3);
  assert.equal(applyRule({ ...tenths, scale: 1, decimals: 0 }, -2.5), -3);
  assert.ok(Object.is(applyRule({ ...tenths, scale: 1, decimals: 0 }, -0.4), 0), "no -0 on the wire");
  assert.equal(applyRule({ ...tenths, scale: 1, decimals: 2 }, 123.456), 123.46, "also without scale: a float register");
  assert.equal(applyRule(rounded, true), true);
  assert.equal(applyRule(rounded, null), null);

  // Lineage: the hash covers decimals when set (canonical key order), and is unchanged without it.
  assert.equal(transformRuleSha256(rounded), sha256Hex('{"decimals":1,"id":"bar-tenths-v1","offset":0,"scale":0.1,"unit":"bar"}'));
  assert.equal(transformRuleSha256(tenths), sha256Hex('{"id":"bar-tenths-v1","offset":0,"scale":0.1,"unit":"bar"}'));
  assert.notEqual(transformRuleSha256({ ...tenths, decimals: 2 }), transformRuleSha256(rounded));

  const { config } = testConfig((c) => {
    c.transforms[0] = { id: "vib-mm-s-v1", scale: 0.1, offset: 0, decimals: 1, unit: "mm/s" };
  });
  const clock = new ManualClock(T0);
  const r = new Normalizer(config, clock).normalize(simOf(clock), raw(1243));
  assert.equal(r?.value, 124.3);
  assert.equal(r?.lineage.transformRuleSha256, sha256Hex('{"decimals":1,"id":"vib-mm-s-v1","offset":0,"scale":0.1,"unit":"mm/s"}'));
});

void test("unknown addresses are counted, not crashed on", () => {
  const { config } = testConfig();
  const clock = new ManualClock(T0);
  const n = new Normalizer(config, clock);
  assert.equal(n.normalize(simOf(clock), raw(1, "pump1/bearing_temp")), null);
  assert.equal(n.normalize(simOf(clock), raw(1, "pump1/bearing_temp")), null);
  assert.deepEqual(n.stats(), { normalized: 0, unknown: 2, unknownBySource: { plant: 2 } });
});

void test("validate: in-range passes; out-of-range, wrong unit, null-with-good and bad timestamps are refused naming the field", () => {
  const { config } = testConfig();
  const clock = new ManualClock(T0);
  const v = new Validator(config);
  const good = new Normalizer(config, clock).normalize(simOf(clock), raw(3.2));
  assert.ok(good);
  assert.deepEqual(v.validate(good), { ok: true });
  const reason = (r: NormalizedRecord): string => {
    const res = v.validate(r);
    assert.equal(res.ok, false);
    return res.ok ? "" : res.reason;
  };
  assert.equal(reason({ ...good, value: 80 }), "value: must be <= 50 (stream vibration valueSchema)");
  assert.match(reason({ ...good, value: -1 }), /^value: must be >= 0/);
  assert.match(reason({ ...good, value: "3.2" }), /^value: must be number/);
  assert.match(reason({ ...good, value: Number.NaN }), /^value: not a finite number/);
  assert.match(reason({ ...good, unit: "in/s" }), /^unit: "in\/s" where transform vib-mm-s-v1 says "mm\/s"/);
  assert.match(reason({ ...good, value: null }), /^value: null with quality good/);
  assert.deepEqual(v.validate({ ...good, value: null, quality: "bad", qualityDetail: "sim:dropout" }), { ok: true });
  assert.match(reason({ ...good, sourceTsNs: "1700000000" }), /^sourceTsNs: before 2000/);
  assert.match(reason({ ...good, sourceTsNs: "17e17" }), /^sourceTsNs: not a decimal/);
  assert.match(reason({ ...good, sourceTsNs: (BigInt(good.gatewayTsNs) + 3_600_000_000_000n).toString() }), /^sourceTsNs: more than 300 s ahead/);
  assert.match(reason({ ...good, stream: "nope" }), /^stream: unknown stream/);
});

void test("spikes from the simulator land in quarantine with reason and counts; only valid records come out", () => {
  const { config } = testConfig();
  const clock = new ManualClock(T0);
  const n = new Normalizer(config, clock);
  const v = new Validator(config);
  const q = new Quarantine(join(config.gateway.stateDir, "quarantine.db"));
  const sim = simOf(clock);
  const faults = [{ asset: "pump1", signal: "vibration_rms" as const, kind: "spike" as const, startS: 0, durationS: 30, magnitude: 80 }];
  const passed: NormalizedRecord[] = [];
  let rejected = 0;
  for (const r of generateSamples({ seed: 42, assets: [{ id: "pump1", kind: "pump" }], faults, rateHz: 10, startMs: T0 }, 300)) {
    const rec = n.normalize(sim, r);
    if (!rec) continue;
    const verdict = v.validate(rec);
    if (verdict.ok) passed.push(rec);
    else {
      q.add(rec, verdict.reason);
      rejected++;
    }
  }
  assert.ok(rejected > 20, `${rejected} rejected`);
  assert.equal(passed.length + rejected, 300);
  assert.ok(passed.every((r) => typeof r.value === "number" && r.value <= 50), "no spike is returned as good");
  assert.deepEqual(q.counts(), [{ stream: "vibration", reason: "value: must be <= 50 (stream vibration valueSchema)", count: rejected }]);
  const recent = q.recent(1)[0];
  assert.ok(recent && (recent.record.value as number) > 50);
  q.close();
  // Counts survive a restart.
  const again = new Quarantine(join(config.gateway.stateDir, "quarantine.db"));
  assert.equal(again.total("vibration"), rejected);
  again.close();
});

void test("quarantine prunes old rows but keeps counts", () => {
  const { config } = testConfig();
  const clock = new ManualClock(T0);
  const rec = new Normalizer(config, clock).normalize(simOf(clock), raw(99));
  assert.ok(rec);
  const q = new Quarantine(join(config.gateway.stateDir, "q2.db"), { maxRows: 500 });
  for (let i = 0; i < 2000; i++) q.add(rec, "value: too big");
  assert.ok(q.recent(5000).length <= 1500);
  assert.equal(q.total(), 2000);
  q.close();
});

void test("encodeRecord: canonical UTF-8 JSON that decodes back; decode refuses malformed records", () => {
  const { config } = testConfig();
  const clock = new ManualClock(T0);
  const r = new Normalizer(config, clock).normalize(simOf(clock), raw(3.25));
  assert.ok(r);
  const bytes = encodeRecord(r);
  assert.equal(bytes.toString("utf8"), canonicalJson(r));
  assert.ok(bytes.toString("utf8").startsWith('{"gatewayTsNs":"'));
  assert.deepEqual(decodeRecord(bytes), r);
  const reordered = Object.fromEntries(Object.entries(r).reverse()) as unknown as NormalizedRecord;
  assert.deepEqual(encodeRecord(reordered), bytes, "key order does not change the bytes");
  assert.throws(() => decodeRecord(Buffer.from("{")), /not valid UTF-8 JSON/);
  assert.throws(() => decodeRecord(Buffer.from(JSON.stringify({ ...r, extra: 1 }))), /must NOT have additional properties/);
});
