import { test } from "node:test";
import assert from "node:assert/strict";
import { Backoff, backoffDelay } from "../../kernel/backoff.js";

/** A random source that must not be asked. */
const noRandom = (): number => assert.fail("a backoff without jitter drew a random number");

void test("without jitter: doubles from minMs on every attempt, up to maxMs, and stays there", () => {
  const o = { minMs: 100, maxMs: 1000, jitter: 0 };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, o, noRandom)), [100, 200, 400, 800, 1000, 1000, 1000]);
  assert.equal(backoffDelay(10_000, o, noRandom), 1000, "a huge attempt number neither overflows nor exceeds the cap");
  assert.equal(backoffDelay(-3, o, noRandom), 100, "a negative attempt counts as the first");
  assert.equal(backoffDelay(40, { minMs: 10, maxMs: Infinity, jitter: 0 }, noRandom), 10 * 2 ** 30, "no cap: growth stops at 2^30 doublings, never Infinity");
  assert.equal(backoffDelay(0, { minMs: 500, maxMs: 100, jitter: 0 }, noRandom), 100, "a ceiling below the first delay wins");
});

void test("equal jitter (the default): each delay lies between half and all of the capped delay, scaled by random()", () => {
  const o = { minMs: 500, maxMs: 30_000 };
  for (let a = 0; a < 12; a++) {
    const exp = Math.min(30_000, 500 * 2 ** a);
    assert.equal(backoffDelay(a, o, () => 0), Math.round(exp / 2), `attempt ${a}: random 0 gives the fixed half`);
    assert.equal(backoffDelay(a, o, () => 0.5), Math.round(exp * 0.75), `attempt ${a}: random 0.5 gives three quarters`);
    const top = backoffDelay(a, o, () => 1 - Number.EPSILON);
    assert.ok(top <= exp && top >= exp - 1, `attempt ${a}: random just below 1 gives (about) the whole delay: ${top} of ${exp}`);
  }
});

void test("full jitter spans 0..delay; jitter outside 0..1 is refused", () => {
  const o = { minMs: 200, maxMs: 10_000, jitter: 1 };
  assert.equal(backoffDelay(3, o, () => 0), 0);
  assert.equal(backoffDelay(3, o, () => 0.25), 400);
  assert.throws(() => backoffDelay(0, { minMs: 1, maxMs: 2, jitter: 1.5 }), RangeError);
  assert.throws(() => backoffDelay(0, { minMs: 1, maxMs: 2, jitter: -0.1 }), RangeError);
});

void test("Backoff hands out growing delays, counts attempts and starts over after reset()", () => {
  const draws: number[] = [];
  const b = new Backoff({ minMs: 50, maxMs: 300 }, () => {
    draws.push(draws.length);
    return 0;
  });
  assert.equal(b.attempts, 0);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [25, 50, 100, 150, 150]);
  assert.equal(b.attempts, 5);
  assert.equal(draws.length, 5, "one random draw per delay");
  b.reset();
  assert.equal(b.attempts, 0);
  assert.equal(b.next(), 25, "after reset the first delay again");
  const fixed = new Backoff({ minMs: 500, maxMs: 2000, jitter: 0 }, noRandom);
  assert.deepEqual([fixed.next(), fixed.next(), fixed.next(), fixed.next()], [500, 1000, 2000, 2000]);
});
