/**
 * Issue #13 item 2: the receiver checks the certificate at the session-open's createdNs (so a backlog
 * sealed before the certificate expired stays verifiable), and therefore bounds createdNs: with the
 * gateway key and its expired certificate, a session-open backdated into the validity must not reach
 * `verified`. Real keys and certificates (devkit/test-pki.ts), the real sealer, the real SQLite store.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../kernel/clock.js";
import { SessionSealer } from "../../envelope/sealer.js";
import { MemoryVerifierState, Reason, Verifier, type VerifierState, type VerifyResult } from "../../envelope/verify/verifier.js";
import { IngestStore } from "../../ingest/store.js";
import { SqliteVerifierState } from "../../ingest/verifier-state.js";
import { makeCa, makeLeaf, show, type TestCa, type TestLeaf } from "./helpers.js";

const DAY = 86_400_000;
/** 2027-01-01T00:00:00Z: the certificate's notBefore. */
const T0 = Date.parse("2027-01-01T00:00:00Z");
const GW = "gw-expired-01";
const STREAM = "line1";
const TOPIC = `otgw/v1/${GW}/${STREAM}`;
const PT = Buffer.from('{"point":"p","value":1}');

interface Pki { ca: TestCa; leaf: TestLeaf; receiverKey: KeyObject }

/** A gateway certificate valid for 7 days from T0 (the fleet CA's default lifetime). */
async function pki(): Promise<Pki> {
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, { cn: GW, notBefore: new Date(T0), notAfter: new Date(T0 + 7 * DAY) });
  return { ca, leaf, receiverKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey };
}

/** A session sealed with the gateway's key and certificate, its createdNs read from `gatewayMs`. */
function seal(p: Pki, gatewayMs: number): Promise<SessionSealer> {
  return SessionSealer.open({
    gatewayId: GW, stream: STREAM, signer: p.leaf.signer, certDer: p.leaf.der, recipientPublicKey: p.receiverKey,
    clock: new ManualClock(gatewayMs), checkpointEveryMessages: 0, checkpointEveryMs: 0,
  });
}

function receiver(p: Pki, nowMs: number, state: VerifierState = new MemoryVerifierState()): Verifier {
  return new Verifier({ trust: { caCertsDer: [p.ca.certDer] }, recipientPrivateKey: p.receiverKey, state, clock: new ManualClock(nowMs) });
}

function refused(r: VerifyResult, reason: string, detail: RegExp): void {
  assert.ok(!r.ok && r.reason === reason && detail.test(r.detail), show(r));
}

void test("expired certificate: a session-open backdated into its validity, older than the backlog age, is refused CREATED_OUT_OF_RANGE and its forged records never verify", async () => {
  const p = await pki();
  const v = receiver(p, T0 + 30 * DAY); // the certificate expired 23 days ago
  const forged = await seal(p, T0 + 3 * DAY); // createdNs inside the validity
  refused(await v.accept(TOPIC, forged.openFrame), Reason.CREATED_OUT_OF_RANGE, /older than the receiver's maximum backlog age/);
  refused(await v.accept(TOPIC, forged.seal(PT, "otgw.reading/1", 1n)), Reason.UNKNOWN_SESSION, /never opened/);
  // Sent honestly (createdNs = now), the same key and certificate are refused for the expiry.
  refused(await v.accept(TOPIC, (await seal(p, T0 + 30 * DAY)).openFrame), Reason.UNKNOWN_GATEWAY, /not valid at/);
});

void test("store-and-forward stays accepted within the backlog age; a session created earlier than one already accepted is refused; so is one from the future", async () => {
  const p = await pki();
  const now = T0 + 8 * DAY; // the certificate expired one day ago
  const v = receiver(p, now);
  // Legitimate: opened while the certificate was valid, delivered after it expired (2 days of backlog).
  const legit = await seal(p, T0 + 6 * DAY);
  assert.ok((await v.accept(TOPIC, legit.openFrame)).ok);
  for (let i = 1; i <= 3; i++) {
    const r = await v.accept(TOPIC, legit.seal(PT, "otgw.reading/1", BigInt(i)));
    assert.ok(r.ok && r.kind === "data", show(r));
  }
  const cp = await v.accept(TOPIC, await legit.checkpoint(true));
  assert.ok(cp.ok && cp.kind === "checkpoint" && cp.mismatch === undefined, show(cp));
  // Backdated one day before the accepted session: still inside the validity and the backlog age.
  const forged = await seal(p, T0 + 5 * DAY);
  refused(await v.accept(TOPIC, forged.openFrame), Reason.CREATED_OUT_OF_RANGE, /earlier than that of a session already accepted for gw-expired-01\/line1/);
  refused(await v.accept(TOPIC, forged.seal(PT, "otgw.reading/1", 1n)), Reason.UNKNOWN_SESSION, /never opened/);
  // Dated ahead of the receiver's clock (it would raise the floor for every later session): refused.
  // (checked on a receiver whose now lies inside the validity, so the certificate is not what refuses it).
  const early = receiver(p, T0 + DAY);
  const ahead = await seal(p, T0 + DAY + 10 * 60_000);
  refused(await early.accept(TOPIC, ahead.openFrame), Reason.CREATED_OUT_OF_RANGE, /ahead of the receiver's clock/);
  assert.ok((await early.accept(TOPIC, (await seal(p, T0 + DAY + 4 * 60_000)).openFrame)).ok, "within the 5-minute skew");
});

void test("the floor survives a receiver restart: SQLite state, a new verifier, a backdated session-open is refused", async () => {
  const p = await pki();
  const dir = mkdtempSync(join(tmpdir(), "otgw-created-"));
  try {
    const now = T0 + 8 * DAY;
    const file = join(dir, "ingest.db");
    const accept = async (v: Verifier, st: SqliteVerifierState, store: IngestStore, frame: Buffer): Promise<VerifyResult> => {
      const r = await v.accept(TOPIC, frame);
      store.tx(() => st.flush());
      return r;
    };
    let store = new IngestStore(file);
    let st = new SqliteVerifierState(store);
    const legit = await seal(p, T0 + 6 * DAY);
    assert.ok((await accept(receiver(p, now, st), st, store, legit.openFrame)).ok);
    const frame1 = legit.seal(PT, "otgw.reading/1", 1n);
    store.close();

    store = new IngestStore(file);
    st = new SqliteVerifierState(store);
    const v = receiver(p, now, st);
    // The backlog of the accepted session still verifies after the restart (keys re-derived, certificate checked at createdNs).
    const r1 = await accept(v, st, store, frame1);
    assert.ok(r1.ok && r1.kind === "data" && r1.seq === 1n, show(r1));
    refused(await accept(v, st, store, (await seal(p, T0 + 5 * DAY)).openFrame), Reason.CREATED_OUT_OF_RANGE, /earlier than that of a session already accepted/);
    // A later session of the same gateway and stream is accepted, and raises the floor.
    assert.ok((await accept(v, st, store, (await seal(p, T0 + 6 * DAY + 60_000)).openFrame)).ok);
    refused(await accept(v, st, store, (await seal(p, T0 + 6 * DAY + 30_000)).openFrame), Reason.CREATED_OUT_OF_RANGE, /earlier than that/);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
