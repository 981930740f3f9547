/** The queue marks a batch of sealed frames brings (what the gateway commits with each batch), and their announcement at start. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";
import { announceEndedSessions, parseSessionMark, sessionMarkName, sessionMarks } from "../../firmware/runtime/session-marks.js";
import { makeWorld } from "../envelope/helpers.js";

const S = "otgw.reading/1";

void test("session marks: open → firstSeq-1, data → last seq per session, final checkpoint → delete; streams interleaved", async () => {
  const w = await makeWorld();
  const a1 = await w.sealer({ stream: "a" });
  const b1 = await w.sealer({ stream: "b", firstSeq: 10n });
  const a2 = await w.sealer({ stream: "a" });
  const f = (stream: string, payload: Buffer): { stream: string; payload: Buffer } => ({ stream, payload });
  const pt = Buffer.from("{}");
  const batch = [
    f("a", a1.openFrame), f("b", b1.openFrame), f("a", a1.seal(pt, S, 1n)), f("b", b1.seal(pt, S, 1n)), f("a", a1.seal(pt, S, 2n)),
    f("a", await a1.checkpoint()), f("a", a1.seal(pt, S, 3n)), f("b", b1.seal(pt, S, 2n)),
  ];
  const ma = sessionMarkName("a", a1.sessionIdHex);
  const mb = sessionMarkName("b", b1.sessionIdHex);
  assert.deepEqual(parseSessionMark(ma), { stream: "a", sessionIdHex: a1.sessionIdHex });
  assert.deepEqual(sessionMarks(batch), { set: new Map([[ma, 3n], [mb, 11n]]) });
  assert.deepEqual(sessionMarks([f("b", b1.openFrame)]), { set: new Map([[mb, 9n]]) });
  // Rotation inside one batch: a1 closes (its mark goes), a2 opens and carries data.
  const rot = [f("a", a1.seal(pt, S, 4n)), f("a", await a1.checkpoint(true)), f("a", a2.openFrame), f("a", a2.seal(pt, S, 5n))];
  assert.deepEqual(sessionMarks(rot), { set: new Map([[sessionMarkName("a", a2.sessionIdHex), 1n]]), delete: [ma] });
  assert.equal(sessionMarks([f("a", await a2.checkpoint())]), undefined, "a non-final checkpoint changes no mark");
  assert.equal(parseSessionMark("something-else"), undefined);
});

void test("announcing ended sessions: a failing signer keeps the marks and says why (audited by the gateway); the next start commits the statements and clears them", async () => {
  const w = await makeWorld();
  const s = await w.sealer({ stream: "a" });
  const dir = mkdtempSync(join(tmpdir(), "otgw-announce-"));
  try {
    const q = SqliteQueue.open(join(dir, "queue.db"));
    const batch = [{ stream: "a", topic: w.topic, priority: 1, payload: s.openFrame }, { stream: "a", topic: w.topic, priority: 1, payload: s.seal(Buffer.from("{}"), S, 1n) }];
    q.enqueue(batch.map((b, i) => ({ ...b, control: i === 0 })), sessionMarks(batch));
    const base = { queue: q, gatewayId: w.gatewayId, certDer: w.leaf.der, clock: w.clock, topicFor: () => w.topic, priorityOf: () => 1, logger: silentLogger() };
    const broken = { ...w.leaf.signer, sign: (): Promise<Buffer> => Promise.reject(new Error("TPM busy")), publicKey: () => w.leaf.signer.publicKey() };
    const failed = await announceEndedSessions({ ...base, signer: broken });
    assert.deepEqual(failed, { ended: [], failed: { sessions: 1, error: "TPM busy" } });
    assert.equal(q.marks().size, 1, "the mark stays for the next start");
    const depth = q.depth().count;
    const ok = await announceEndedSessions({ ...base, signer: w.leaf.signer });
    assert.deepEqual(ok, { ended: [{ stream: "a", sessionId: s.sessionIdHex, lastSeq: 1n }] });
    assert.equal(q.marks().size, 0);
    assert.equal(q.depth().count, depth + 1, "one statement queued");
    q.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
