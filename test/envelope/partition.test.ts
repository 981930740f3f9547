import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { MAX_PARTITIONS, parseTopic, partitionOf, topicFor } from "../../envelope/format.js";

/** The partition as a second implementation computes it from the spec (docs/topics.md): coreutils' sha256sum. */
function partitionBySpec(gatewayId: string, partitions: number): number {
  const hex = execFileSync("sha256sum", [], { input: Buffer.from(gatewayId, "utf8"), encoding: "utf8" }).slice(0, 8);
  return Number.parseInt(hex, 16) % partitions;
}

void test("partitionOf follows the spec (first 4 bytes of SHA-256 of the id, big-endian, mod P), checked against sha256sum", () => {
  for (const id of ["gw-001", "gw-vector-01", "plant-7.press_3", "a", "Z".repeat(64)]) {
    for (const p of [1, 2, 7, 16, 64, 4096]) assert.equal(partitionOf(id, p), partitionBySpec(id, p), `${id} mod ${p}`);
  }
  assert.equal(partitionOf("gw-001", 1), 0);
  assert.equal(partitionOf("gw-vector-01", 16), 12, "the example in docs/topics.md");
});

void test("partitionOf spreads a fleet over the partitions (no partition empty or more than twice the mean)", () => {
  const P = 16;
  const counts = new Array<number>(P).fill(0);
  for (let i = 0; i < 4000; i++) counts[partitionOf(`gw-${i}`, P)]!++;
  for (const [p, n] of counts.entries()) assert.ok(n > 0 && n < (2 * 4000) / P, `partition ${p} holds ${n} of 4000`);
});

void test("partitionOf refuses a partition count outside 1..MAX_PARTITIONS", () => {
  for (const bad of [0, -1, 1.5, MAX_PARTITIONS + 1, Number.NaN]) assert.throws(() => partitionOf("gw-1", bad), RangeError, String(bad));
});

void test("topicFor and parseTopic: v1 without partitions, v2 with the gateway's partition, round trip", () => {
  assert.equal(topicFor("gw-1", "line1"), "otgw/v1/gw-1/line1");
  const t = topicFor("gw-1", "line1", 16);
  assert.equal(t, `otgw/v2/${partitionBySpec("gw-1", 16)}/gw-1/line1`);
  assert.deepEqual(parseTopic(t), { gatewayId: "gw-1", stream: "line1", partition: partitionBySpec("gw-1", 16) });
  assert.deepEqual(parseTopic("otgw/v1/gw-1/line1"), { gatewayId: "gw-1", stream: "line1" });
  for (const bad of ["otgw/v2/gw-1/line1", "otgw/v2/01/gw-1/line1", "otgw/v2/-1/gw-1/line1", `otgw/v2/${MAX_PARTITIONS}/gw-1/line1`,
    "otgw/v2/3/gw 1/line1", "otgw/v2/3/gw-1/line1/x", "otgw/v3/3/gw-1/line1", "otgw/v1/3/gw-1/line1"]) {
    assert.equal(parseTopic(bad), undefined, bad);
  }
});
