/**
 * The receiver's promised window (docs/envelope.md "Hash chain"): it keeps the chain values of its last
 * 256 accepted seqs, so an authentic checkpoint whose lastSeq lies within them matches, however many
 * checkpoints arrived in between (issue #13 item 23: each checkpoint used to take a slot of the window).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeCheckpointToBeSigned } from "../../envelope/format.js";
import { toLowS } from "../../envelope/signature.js";
import type { VerifyResult } from "../../envelope/verify/verifier.js";
import { makeWorld, show, type World } from "./helpers.js";

/** A checkpoint signed by the gateway key, with the sealer's true chain value at `lastSeq`: authentic, only late. */
async function lateCheckpoint(w: World, sessionIdHex: string, index: number, lastSeq: bigint, chain: Buffer): Promise<Buffer> {
  const tbs = encodeCheckpointToBeSigned({
    sessionId: Buffer.from(sessionIdHex, "hex"), gatewayId: w.gatewayId, stream: w.stream, final: false, index, lastSeq, createdNs: w.clock.nowNs(), chain,
  });
  return Buffer.concat([tbs, toLowS(await w.leaf.signer.sign(tbs))]);
}

function checkpointMismatch(r: VerifyResult): string | undefined {
  assert.ok(r.ok && r.kind === "checkpoint", show(r));
  return r.mismatch?.detail;
}

void test("300 data frames, a checkpoint at 300, then an authentic checkpoint at 45: no CHECKPOINT_MISMATCH (45 is inside the last 256 seqs)", async () => {
  const w = await makeWorld();
  const s = await w.sealer({ checkpointEveryMessages: 0, checkpointEveryMs: 0 });
  const v = w.verifier();
  assert.ok((await v.accept(w.topic, s.openFrame)).ok);
  const chainAt = new Map<bigint, Buffer>();
  for (let i = 1; i <= 300; i++) {
    const r = await v.accept(w.topic, s.seal(Buffer.from(`{"v":${i}}`), "otgw.reading/1", BigInt(i)));
    assert.ok(r.ok && r.kind === "data" && r.gap === undefined, show(r));
    chainAt.set(BigInt(i), s.chainValue);
  }
  assert.equal(checkpointMismatch(await v.accept(w.topic, await s.checkpoint())), undefined, "checkpoint 1 at seq 300");
  const at45 = chainAt.get(45n);
  assert.ok(at45);
  assert.equal(checkpointMismatch(await v.accept(w.topic, await lateCheckpoint(w, s.sessionIdHex, 2, 45n, at45))), undefined, "checkpoint 2 at seq 45");
  // More checkpoints at the tail do not shrink the window either.
  assert.equal(checkpointMismatch(await v.accept(w.topic, await lateCheckpoint(w, s.sessionIdHex, 3, 300n, s.chainValue))), undefined);
  assert.equal(checkpointMismatch(await v.accept(w.topic, await lateCheckpoint(w, s.sessionIdHex, 4, 45n, at45))), undefined, "checkpoint 4 at seq 45");
  // The window is 256 seqs (45..300): seq 44 is outside it and reported as unknown, not silently accepted.
  const at44 = chainAt.get(44n);
  assert.ok(at44);
  assert.match(checkpointMismatch(await v.accept(w.topic, await lateCheckpoint(w, s.sessionIdHex, 5, 44n, at44))) ?? "", /no longer holds its chain value/);
});
