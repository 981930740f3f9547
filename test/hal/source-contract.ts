import { test } from "node:test";
import assert from "node:assert/strict";
import type { RawReading, Source } from "../../hal/source.js";

/** A source under test, plus a way to make time pass for it (real or manual). */
export interface ContractSubject {
  source: Source;
  /** Lets at least `ms` of source time pass and gives pending timers a chance to run. */
  advance: (ms: number) => Promise<void>;
}

/**
 * The contract every `Source` implementation meets (STYLE 2): run it for the simulator now and for
 * OPC UA, Modbus and GPIO as they land (against their test servers).
 */
export function sourceContract(name: string, make: () => ContractSubject): void {
  void test(`${name}: Source contract — start delivers readings for its addresses, stop ends them, restart works`, async () => {
    const { source, advance } = make();
    assert.equal(typeof source.id, "string");
    assert.ok(source.addresses().length > 0);
    assert.equal(source.health().state, "stopped");
    const got: RawReading[] = [];
    await source.start((r) => got.push(r));
    assert.equal(source.health().state, "running");
    await advance(500);
    assert.ok(got.length > 0, "readings arrive after start");
    const known = new Set(source.addresses());
    for (const r of got) {
      assert.ok(known.has(r.address), `address ${r.address} is one of addresses()`);
      assert.equal(typeof r.sourceTsNs, "bigint");
      assert.ok(r.value !== null || r.quality !== "good", "a missing value never claims good quality");
      assert.match(source.uriFor(r.address), /^[a-z][a-z0-9+.-]*:\/\//);
    }
    await source.stop();
    assert.equal(source.health().state, "stopped");
    const n = got.length;
    await advance(500);
    assert.equal(got.length, n, "no readings after stop()");
    await source.start((r) => got.push(r));
    await advance(500);
    assert.ok(got.length > n, "start() again after stop() delivers again");
    await source.stop();
    assert.equal(source.health().readings, got.length);
  });

  void test(`${name}: Source contract — a throwing sink is counted, not fatal`, async () => {
    const { source, advance } = make();
    await source.start(() => {
      throw new Error("sink failure");
    });
    await advance(300);
    assert.ok(source.health().errors > 0);
    assert.equal(source.health().state, "running");
    await source.stop();
  });
}
