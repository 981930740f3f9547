import { test } from "node:test";
import assert from "node:assert/strict";
import { systemClock } from "../../kernel/clock.js";
import { ManualTime } from "../../kernel/scheduler.js";
import { silentLogger } from "../../kernel/log.js";
import { SourceError } from "../../kernel/errors.js";
import { createSources } from "../../hal/registry.js";
import { FakeGpioChip, GpioSource, isTamperReporter, sharedFakeChip, type TamperEvent } from "../../hal/gpio/index.js";
import type { RawReading } from "../../hal/source.js";
import { fieldConfig, fieldConfigProblems, pointsFor } from "../../devkit/dev-plant/field-config.js";
import { sourceContract } from "./source-contract.js";

const line = (n: number, over: Record<string, unknown> = {}) => ({ line: n, edge: "both" as const, debounceMs: 20, activeLow: false, tamper: false, ...over });

void test("fake backend from config: state at start, one reading per debounced change, activeLow, tamper events", async () => {
  const { config } = fieldConfig({
    sources: [{ id: "cabinet", kind: "gpio", backend: "fake", lines: [{ line: 17, tamper: true, activeLow: true }, { line: 22, debounceMs: 0, edge: "rising" }] }],
    points: pointsFor("cabinet", ["17", "22"]),
  });
  sharedFakeChip.set(17, 1); // switch closed = enclosure shut (active low)
  const time = new ManualTime();
  const [src] = await createSources(config, time, silentLogger(), { scheduler: time });
  assert.ok(src instanceof GpioSource && isTamperReporter(src));
  assert.deepEqual(src.tamperAddresses(), ["17"]);
  assert.equal(src.uriFor("17"), "gpio://gpiochip0/17");
  const tampers: TamperEvent[] = [];
  src.onTamper((e) => tampers.push(e));
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  assert.deepEqual(got.map((r) => [r.address, r.value]), [["17", false], ["22", false]]);
  // Contact bounce: five edges 5 ms apart, each restarting the 20 ms window, settle to one change
  // 20 ms after the last edge, stamped with that moment.
  const t0 = time.nowNs();
  for (const lvl of [0, 1, 0, 1, 0] as const) {
    sharedFakeChip.set(17, lvl);
    await time.advance(5);
  }
  await time.advance(14);
  assert.equal(got.length, 2, "39 ms after the first edge, 19 ms after the last: still bouncing");
  await time.advance(1);
  assert.deepEqual(got.slice(2).map((r) => [r.address, r.value]), [["17", true]]);
  assert.equal(got[2]!.sourceTsNs, t0 + 40_000_000n);
  assert.deepEqual(tampers.map((t) => [t.line, t.active, t.uri]), [[17, false, "gpio://gpiochip0/17"], [17, true, "gpio://gpiochip0/17"]]);
  // Line 22 reports rising edges only.
  sharedFakeChip.set(22, 1);
  sharedFakeChip.set(22, 0);
  sharedFakeChip.set(22, 1);
  assert.deepEqual(got.slice(3).map((r) => [r.address, r.value]), [["22", true], ["22", true]]);
  assert.ok(got.every((r) => r.quality === "good" && typeof r.sourceTsNs === "bigint"));
  sharedFakeChip.set(17, 1); // an edge whose window is still open at stop()
  assert.equal(time.pending(), 1);
  await src.stop();
  assert.equal(time.pending(), 0, "stop() cancels the open debounce window");
  await time.advance(40);
  assert.equal(got.length, 5);
});

void test("onoff on a machine without GPIO fails visibly, never falls back to the fake", async () => {
  const { config } = fieldConfig({ sources: [{ id: "di", kind: "gpio", backend: "onoff", lines: [line(5)] }], points: pointsFor("di", ["5"]) });
  const [src] = await createSources(config, systemClock, silentLogger());
  const got: RawReading[] = [];
  await src!.start((r) => got.push(r));
  const h = src!.health();
  // This kernel has no GPIO (FACTS.md); on a device with GPIO the source would be running instead.
  assert.equal(h.state, "failed");
  assert.match(h.detail ?? "", /GPIO is not accessible/);
  assert.equal(got.length, 0);
  await src!.stop();
});

void test("config: backend defaults to chardev, production refuses the fake, lines and addresses are checked", () => {
  const base = { points: pointsFor("di", ["5"]) };
  assert.deepEqual(fieldConfigProblems({ ...base, sources: [{ id: "di", kind: "gpio", lines: [{ line: 5 }] }] }), []);
  const { config } = fieldConfig({ ...base, sources: [{ id: "di", kind: "gpio", lines: [{ line: 5 }] }] });
  assert.deepEqual(config.sources.map((s) => s.kind === "gpio" && [s.backend, s.chip]), [["chardev", "gpiochip0"]]);
  assert.ok(fieldConfigProblems({ ...base, sources: [{ id: "di", kind: "gpio", backend: "sysfs", lines: [{ line: 5 }] }] }).some((p) => /\/sources\/0.*backend/.test(p)));
  assert.ok(fieldConfigProblems({ ...base, sources: [{ id: "di", kind: "gpio", chip: "/dev/gpiochip0", lines: [{ line: 5 }] }] }).some((p) => /\/sources\/0.*chip/.test(p)));
  const prod = fieldConfigProblems({ ...base, mode: "production", keystore: "tpm", sources: [{ id: "di", kind: "gpio", backend: "fake", lines: [{ line: 5 }] }] });
  assert.ok(prod.some((p) => p.startsWith("/sources/0/backend: production mode refuses the fake GPIO backend")), prod.join("\n"));
  const dup = fieldConfigProblems({ points: pointsFor("di", ["6"]), sources: [{ id: "di", kind: "gpio", backend: "fake", lines: [{ line: 5 }, { line: 5 }] }] });
  assert.ok(dup.some((p) => p.includes("/sources/0/lines/1/line")), dup.join("\n"));
  assert.ok(dup.some((p) => p.includes("/points/0/address: GPIO addresses are the line number")), dup.join("\n"));
});

sourceContract("gpio (fake backend, manual time)", () => {
  const chip = new FakeGpioChip();
  const time = new ManualTime();
  const source = new GpioSource({ id: "cab", chip: "gpiochip0", lines: [line(3)], backend: () => Promise.resolve(chip), scheduler: time }, time);
  return {
    source,
    advance: async (ms) => {
      chip.set(3, chip.level(3) === 1 ? 0 : 1);
      await time.advance(ms);
    },
  };
});

void test("a line the backend refuses (busy, not on the chip) fails the source with the backend's message; start() does not throw", async () => {
  const chip = new FakeGpioChip();
  const opened: number[] = [];
  const backend = {
    name: "fake" as const,
    open: (n: number, edge: "rising" | "falling" | "both") => {
      if (n === 4) throw new SourceError("GPIO_LINE_BUSY", "GPIO line 4 of /dev/gpiochip0: the line is in use by another consumer");
      opened.push(n);
      const input = chip.open(n, edge);
      return { ...input, close: () => opened.splice(opened.indexOf(n), 1) };
    },
  };
  const time = new ManualTime();
  const source = new GpioSource({ id: "cab", chip: "gpiochip0", lines: [line(3), line(4)], backend: () => Promise.resolve(backend), scheduler: time }, time);
  await source.start(() => undefined);
  assert.equal(source.health().state, "failed");
  assert.match(source.health().detail ?? "", /GPIO line 4 of \/dev\/gpiochip0: the line is in use/);
  assert.deepEqual(opened, [], "the lines opened before the refused one are released");
});
