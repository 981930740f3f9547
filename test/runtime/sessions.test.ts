import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { silentLogger } from "../../kernel/log.js";
import { ManualClock } from "../../kernel/clock.js";
import { Outbox, type OutboxItem } from "../../firmware/runtime/outbox.js";
import { StreamSessions } from "../../firmware/runtime/sessions.js";
import { MemoryVerifierState, Verifier } from "../../envelope/verify/verifier.js";
import { SoftwareSigner } from "../../provisioning/software-keystore.js";
import { createCa, issueCertificate } from "../../fleet/ca/pki.js";
import type { Signer } from "../../kernel/keystore.js";

/** A signer as slow as a real TPM chip (tens of ms), so signatures finish out of step with sealing. */
function slowSigner(inner: SoftwareSigner, ms: () => number): Signer {
  return {
    algorithm: "ES256", kind: "software", publicKey: () => inner.publicKey(),
    sign: async (data) => {
      await new Promise((r) => setTimeout(r, ms()));
      return inner.sign(data);
    },
  };
}

async function setup(): Promise<{ signer: SoftwareSigner; certDer: Buffer; caDer: Buffer; recipient: { publicKey: KeyObject; privateKey: KeyObject } }> {
  const ca = await createCa({ commonName: "test fleet CA", days: 2 });
  const signer = SoftwareSigner.generate();
  const leaf = await issueCertificate({ ca, commonName: "gw-rt", publicKey: signer.publicKey(), days: 2, usage: "client", sanUris: ["urn:otgw:gateway:gw-rt"] });
  return { signer, certDer: leaf.certDer, caDer: ca.certDer, recipient: generateKeyPairSync("ec", { namedCurve: "P-256" }) };
}

void test("sessions rotate and checkpoint in order while signatures complete late; the receiver accepts every record exactly once", async () => {
  const { signer, certDer, caDer, recipient } = await setup();
  const clock = new ManualClock(Date.now());
  const written: OutboxItem[] = [];
  const outbox = new Outbox({ write: (items) => void written.push(...items), onFailure: (_i, err) => assert.fail(String(err)) });
  let n = 0;
  const sessions = new StreamSessions({
    gatewayId: "gw-rt", signer: slowSigner(signer, () => 5 + ((n++ * 7) % 25)), certDer, recipientPublicKey: recipient.publicKey, clock,
    checkpointEveryMessages: 4, checkpointEveryMs: 60_000, sessionMaxMessages: 10, outbox,
    topicFor: (s) => `otgw/v1/gw-rt/${s}`, priorityOf: () => 2, onSessionOpened: () => undefined, logger: silentLogger(),
  });
  const streams = ["a", "b"];
  for (let i = 0; i < 25; i++) {
    for (const s of streams) sessions.submit(s, Buffer.from(JSON.stringify({ s, i })), "test/1", clock.nowNs());
    if (i % 6 === 0) await new Promise((r) => setTimeout(r, 3)); // let some signatures land mid-stream
  }
  await sessions.closeAll();
  await outbox.drained();

  const verifier = new Verifier({ trust: { caCertsDer: [caDer] }, recipientPrivateKey: recipient.privateKey, state: new MemoryVerifierState(), clock });
  const got = new Map<string, number[]>();
  let opens = 0;
  let checkpoints = 0;
  for (const item of written) {
    const r = await verifier.accept(item.topic, item.payload);
    assert.ok(r.ok, `frame refused: ${r.ok ? "" : `${r.reason} ${r.detail}`}`);
    if (r.kind === "session-open") opens++;
    if (r.kind === "checkpoint") {
      checkpoints++;
      assert.equal(r.mismatch, undefined, "every checkpoint matches the receiver's chain");
    }
    if (r.kind === "data") {
      assert.equal(r.gap, undefined);
      const rec = JSON.parse(r.plaintext.toString("utf8")) as { s: string; i: number };
      got.set(rec.s, [...(got.get(rec.s) ?? []), rec.i]);
    }
  }
  for (const s of streams) assert.deepEqual(got.get(s), Array.from({ length: 25 }, (_, i) => i), `stream ${s}: every record once, in order`);
  assert.equal(opens, 6, "25 records per stream at 10 per session: 3 sessions per stream");
  // Per session of 10: checkpoints after 4 and 8, final at 10 (rotation); the last session of 5: after 4, final at close.
  assert.equal(checkpoints, 2 * (3 + 3 + 2));
});
