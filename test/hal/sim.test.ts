import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ManualClock, systemClock } from "../../kernel/clock.js";
import { ManualTime } from "../../kernel/scheduler.js";
import { generateSamples, plantValues, SimSource, type SimAssetSpec, type SimFaultSpec } from "../../hal/sim/index.js";
import type { RawReading } from "../../hal/source.js";
import { sourceContract } from "./source-contract.js";

const assets: SimAssetSpec[] = [{ id: "motor1", kind: "motor" }, { id: "pump1", kind: "pump" }, { id: "compressor1", kind: "compressor" }];
const T0 = 1_700_000_000_000;

const series = (faults: SimFaultSpec[], address: string, ticks: number, rateHz = 10) =>
  generateSamples({ seed: 42, assets, faults, rateHz, startMs: T0 }, ticks).filter((r) => r.address === address);

void test("same seed and time give identical values; a different seed gives different ones", () => {
  const a = generateSamples({ seed: 42, assets, rateHz: 10, startMs: T0 }, 50);
  const b = generateSamples({ seed: 42, assets, rateHz: 10, startMs: T0 }, 50);
  const c = generateSamples({ seed: 43, assets, rateHz: 10, startMs: T0 }, 50);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((r) => r.value), c.map((r) => r.value));
  // Pure: the value at a time does not depend on what was computed before.
  const asset = assets[1]!;
  const v = plantValues(7, asset, "vibration_rms", T0 + 12_345);
  plantValues(7, asset, "bearing_temp", T0);
  assert.equal(plantValues(7, asset, "vibration_rms", T0 + 12_345), v);
});

void test("healthy values are physically plausible", () => {
  const ranges: Record<string, [number, number]> = {
    vibration_rms: [0, 10], bearing_temp: [30, 90], motor_current: [5, 70], discharge_pressure: [1, 12],
  };
  const all = generateSamples({ seed: 9, assets, rateHz: 1, startMs: T0 }, 1200);
  assert.equal(all.length, 1200 * 12);
  for (const r of all) {
    const [lo, hi] = ranges[r.signal]!;
    assert.equal(r.quality, "good");
    assert.ok(typeof r.value === "number" && r.value >= lo && r.value <= hi, `${r.address}=${String(r.value)}`);
  }
});

void test("drift: a linear trend of magnitude per second", () => {
  const fault: SimFaultSpec = { asset: "motor1", signal: "bearing_temp", kind: "drift", startS: 0, durationS: 100, magnitude: 0.5 };
  const healthy = series([], "motor1/bearing_temp", 1000);
  const drifted = series([fault], "motor1/bearing_temp", 1000);
  const delta = drifted.map((r, i) => (r.value as number) - (healthy[i]!.value as number));
  assert.ok(Math.abs(delta[999]! - 0.5 * 99.9) < 0.01, `delta at the end ${delta[999]}`);
  assert.ok(delta.every((d, i) => i === 0 || d >= delta[i - 1]! - 1e-9), "monotonic ramp");
});

void test("spike: occasional values out of the plausible range, only inside the window", () => {
  const fault: SimFaultSpec = { asset: "pump1", signal: "vibration_rms", kind: "spike", startS: 10, durationS: 10, magnitude: 80 };
  const s = series([fault], "pump1/vibration_rms", 300);
  const spikes = s.filter((r) => (r.value as number) > 50);
  assert.ok(spikes.length > 5 && spikes.length < 100, `${spikes.length} spikes`);
  assert.ok(spikes.every((r) => r.tMs >= T0 + 10_000 && r.tMs < T0 + 20_000));
});

void test("stuck: the value is frozen during the window and moves outside it", () => {
  const fault: SimFaultSpec = { asset: "compressor1", signal: "discharge_pressure", kind: "stuck", startS: 5, durationS: 10, magnitude: 0 };
  const s = series([fault], "compressor1/discharge_pressure", 250);
  const inside = s.filter((r) => r.tMs >= T0 + 5_000 && r.tMs < T0 + 15_000).map((r) => r.value);
  const outside = s.filter((r) => r.tMs >= T0 + 15_000).map((r) => r.value);
  assert.equal(new Set(inside).size, 1);
  assert.ok(new Set(outside).size > 10);
});

void test("dropout: bad quality with a null value during the window", () => {
  const fault: SimFaultSpec = { asset: "pump1", signal: "motor_current", kind: "dropout", startS: 2, durationS: 3, magnitude: 0 };
  const s = series([fault], "pump1/motor_current", 100);
  const out = s.filter((r) => r.value === null);
  assert.equal(out.length, 30);
  assert.ok(out.every((r) => r.quality === "bad" && r.qualityDetail === "sim:dropout"));
  assert.ok(s.filter((r) => r.value !== null).every((r) => r.quality === "good"));
});

void test("SimSource on manual time delivers exactly rateHz ticks per second, with source timestamps", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const src = new SimSource({ id: "plant", seed: 42, rateHz: 10, assets, faults: [] }, time, undefined, time);
  assert.equal(src.uriFor("pump1/vibration_rms"), "sim://plant/pump1/vibration_rms");
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  await time.advance(1000);
  // t = 0 .. 1000 ms inclusive at 10 Hz: 11 ticks × 12 addresses.
  assert.equal(got.length, 11 * 12);
  const ts = [...new Set(got.map((r) => r.sourceTsNs))];
  assert.equal(ts.length, 11);
  assert.equal(ts[1]! - ts[0]!, 100_000_000n);
  // Same values as the timer-free generator: the source only decides when.
  assert.deepEqual(got.slice(0, 12).map((r) => r.value), generateSamples({ seed: 42, assets, rateHz: 10, startMs: T0 }, 1).map((r) => r.value));
  await src.stop();
  assert.equal(time.pending(), 0, "stop() cancels the source's timer");
  await time.advance(1000);
  assert.equal(got.length, 11 * 12);
});

void test("SimSource skips ticks after a long stall instead of bursting", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const src = new SimSource({ id: "plant", seed: 1, rateHz: 10, assets: [assets[0]!], faults: [] }, time, undefined, time);
  let n = 0;
  await src.start(() => n++);
  time.jump(60_000); // the process was suspended: no timer ran
  await time.advance(0);
  assert.ok(n <= 11 * 4, `${n} readings after a 60 s stall`);
  assert.match(src.health().detail ?? "", /skipped/);
  await src.stop();
});

void test("SimSource on real timers delivers at about the configured rate", async () => {
  const src = new SimSource({ id: "plant", seed: 1, rateHz: 50, assets: [assets[0]!], faults: [] }, systemClock);
  const got: RawReading[] = [];
  const t0 = performance.now();
  await src.start((r) => got.push(r));
  await sleep(400);
  await src.stop();
  // Compare with the time that actually passed (a loaded machine oversleeps), not with a fixed window.
  const expected = ((performance.now() - t0) / 1000) * 50;
  const perAddress = got.filter((r) => r.address === "motor1/vibration_rms").length;
  assert.ok(Math.abs(perAddress - expected) <= 3 + 0.15 * expected, `${perAddress} readings where 50 Hz over the elapsed time gives ${expected.toFixed(1)}`);
});

sourceContract("sim (manual time)", () => {
  const time = new ManualTime(new ManualClock(T0));
  const source = new SimSource({ id: "plant", seed: 3, rateHz: 20, assets, faults: [] }, time, undefined, time);
  return { source, advance: (ms) => time.advance(ms) };
});

sourceContract("sim (real timers)", () => ({
  source: new SimSource({ id: "plant", seed: 3, rateHz: 50, assets: [assets[0]!], faults: [] }, systemClock),
  advance: (ms) => sleep(ms),
}));
