import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../kernel/clock.js";
import { ManualTime, sleep, systemScheduler } from "../../kernel/scheduler.js";

const T0 = 1_700_000_000_000;

void test("ManualTime fires due timers in order of due time, the clock reading each one's due time", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const fired: Array<[string, number]> = [];
  const at = (name: string) => () => void fired.push([name, time.nowMs() - T0]);
  time.setTimeout(at("c"), 30);
  time.setTimeout(at("a"), 10);
  time.setTimeout(at("b1"), 20);
  time.setTimeout(at("b2"), 20); // same instant: the one set first fires first
  await time.advance(9);
  assert.deepEqual(fired, [], "nothing is due before its time");
  assert.equal(time.nowMs(), T0 + 9);
  await time.advance(1);
  assert.deepEqual(fired, [["a", 10]], "due exactly at the end of the step fires");
  await time.advance(100);
  assert.deepEqual(fired, [["a", 10], ["b1", 20], ["b2", 20], ["c", 30]]);
  assert.equal(time.nowMs(), T0 + 110, "the clock ends where advance() was told to go");
  assert.equal(time.pending(), 0);
});

void test("ManualTime intervals repeat until cancelled; cancel() stops timeouts that have not fired", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const ticks: number[] = [];
  const every = time.setInterval(() => ticks.push(time.nowMs() - T0), 25);
  const never = time.setTimeout(() => ticks.push(-1), 60);
  assert.equal(time.pending(), 2);
  never.cancel();
  never.cancel(); // harmless when repeated
  assert.equal(time.pending(), 1);
  await time.advance(100);
  assert.deepEqual(ticks, [25, 50, 75, 100]);
  every.cancel();
  await time.advance(100);
  assert.deepEqual(ticks, [25, 50, 75, 100]);
  assert.equal(time.pending(), 0);
  assert.equal(every.unref(), every, "unref() hands back the same timer");
});

void test("ManualTime: timers set by a callback fire within the same advance() when they fall due in it", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const fired: number[] = [];
  time.setTimeout(() => {
    fired.push(time.nowMs() - T0);
    time.setTimeout(() => fired.push(time.nowMs() - T0), 15); // due at 25: inside the step
    time.setTimeout(() => fired.push(time.nowMs() - T0), 50); // due at 60: after it
  }, 10);
  await time.advance(30);
  assert.deepEqual(fired, [10, 25]);
  await time.advance(30);
  assert.deepEqual(fired, [10, 25, 60]);
});

void test("ManualTime lets await chains started by a timer run before the next timer fires", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const log: string[] = [];
  // A loop that re-arms its timer only after awaiting: each sleep exists only once the previous one resolved.
  const loop = (async () => {
    for (let i = 0; i < 3; i++) {
      await sleep(time, 10);
      await Promise.resolve();
      log.push(`loop ${time.nowMs() - T0}`);
    }
  })();
  time.setTimeout(() => {
    void Promise.resolve().then(() => Promise.resolve()).then(() => log.push("chain of the 15 ms timer"));
  }, 15);
  time.setTimeout(() => log.push("16 ms timer"), 16);
  await time.advance(30);
  await loop;
  assert.deepEqual(log, ["loop 10", "chain of the 15 ms timer", "16 ms timer", "loop 20", "loop 30"]);
});

void test("ManualTime.jump() is a stall: overdue timers fire late on the next advance, intervals then resume their period", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const fired: Array<[string, number]> = [];
  time.setInterval(() => fired.push(["every 100", time.nowMs() - T0]), 100);
  time.setTimeout(() => fired.push(["once at 50", time.nowMs() - T0]), 50);
  time.jump(1000);
  assert.deepEqual(fired, [], "jump() fires nothing");
  await time.advance(0);
  assert.deepEqual(fired, [["once at 50", 1000], ["every 100", 1000]], "each fires once, late, in due order; the clock is not wound back");
  await time.advance(250);
  assert.deepEqual(fired.slice(2), [["every 100", 1100], ["every 100", 1200]]);
});

void test("ManualTime: delays below 1 ms count as 1 ms (as in Node), so zero-delay chains cannot spin inside advance()", async () => {
  const time = new ManualTime(new ManualClock(T0));
  let n = 0;
  const again = (): void => {
    n++;
    time.setTimeout(again, 0);
  };
  time.setTimeout(again, 0);
  await time.advance(0);
  assert.equal(n, 0);
  await time.advance(5);
  assert.equal(n, 5);
});

void test("ManualTime refuses overlapping advance() calls and bad durations, and passes on a callback's exception", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const first = time.advance(10);
  await assert.rejects(time.advance(10), /already running/);
  await first;
  await assert.rejects(time.advance(-1), RangeError);
  assert.throws(() => time.jump(Number.NaN), RangeError);
  time.setTimeout(() => {
    throw new Error("callback failed");
  }, 5);
  let later = false;
  time.setTimeout(() => (later = true), 6);
  await assert.rejects(time.advance(10), /callback failed/);
  assert.equal(later, false, "timers after the failing one stay pending");
  await time.advance(10);
  assert.equal(later, true, "and fire on the next advance");
});

void test("ManualTime shares its ManualClock: other readers of that clock see the same time", async () => {
  const clock = new ManualClock(T0);
  const time = new ManualTime(clock);
  await time.advance(1234);
  assert.equal(clock.nowMs(), T0 + 1234);
  assert.equal(time.nowNs(), clock.nowNs());
});

void test("systemScheduler runs on Node's timers: timeouts fire, cancelled ones do not, intervals repeat until cancelled", async () => {
  let cancelledFired = false;
  systemScheduler.setTimeout(() => (cancelledFired = true), 1).cancel();
  let n = 0;
  const every = systemScheduler.setInterval(() => n++, 1);
  await new Promise<void>((resolve) => {
    const t = systemScheduler.setTimeout(resolve, 20);
    assert.equal(t.unref(), t);
  });
  // The unref'd timeout still fired: unref only stops it from keeping the process alive.
  every.cancel();
  const after = n;
  assert.ok(after >= 1, "the interval fired");
  await sleep(systemScheduler, 10);
  assert.equal(n, after, "no interval callbacks after cancel()");
  assert.equal(cancelledFired, false);
});
