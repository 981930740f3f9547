/**
 * Issue #14: the gateway's clock off by ±1 h against the receiver. There is no libfaketime here; the
 * gateway is given a clock (createGateway's `clock`, the one every timestamp it seals comes from:
 * session createdNs, record gatewayTs, checkpoints), offset from the system clock. No production knob
 * exists or is added: an offset clock is a test's in-process collaborator only.
 *
 * What the receiver does (docs/ingest.md "Gateway clock skew"): it judges a session-open's certificate
 * at the session's createdNs, i.e. on the gateway's clock. So:
 * - -1 h with a certificate issued minutes ago: at the gateway's clock the certificate is not valid yet,
 *   so the gateway opens no session and holds every reading on disk (held.db), saying why; nothing is
 *   sent, so nothing is refused (a receiver would refuse such a session-open UNKNOWN_GATEWAY).
 * - -1 h with a certificate valid for days: accepted, gatewayTs an hour behind receivedAt.
 * - +1 h: accepted where the receiver has no bound on createdNs ahead of its clock; where it has one
 *   (main's CREATED_OUT_OF_RANGE, 5 min) every session-open is refused with that reason and, as for
 *   -1 h, the gateway keeps everything. The test holds both outcomes to the same invariant: every
 *   accepted reading is verified exactly once, or it is still in the gateway's queue and its
 *   session-open is in the receiver's quarantine with a reason an operator can act on.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger, silentLogger } from "../../kernel/log.js";
import { systemClock, type Clock } from "../../kernel/clock.js";
import { issueCertificate } from "../../fleet/ca/pki.js";
import { SoftwareKeyStore } from "../../provisioning/software-keystore.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";
import { acceptedFrames, account, assertExact } from "./accounting.js";

const HOUR_MS = 3_600_000;
const RUN_MS = 15_000;

/** The system clock moved by `offsetMs`: the gateway's view of time only. */
function offsetClock(offsetMs: number): Clock {
  const ns = BigInt(offsetMs) * 1_000_000n;
  return { nowNs: () => systemClock.nowNs() + ns, nowMs: () => systemClock.nowMs() + offsetMs };
}

interface Outcome {
  accepted: Set<string>;
  queueDepth: number;
  counters: ReturnType<Awaited<ReturnType<typeof createGateway>>["gateway"]["uplinkCounters"]>;
  refusedOpens: Array<{ reason: string; detail: string }>;
  /** gatewayTs - receivedAt of the verified records, ms (median), when any. */
  skewMs: number | undefined;
}

type Gw = Awaited<ReturnType<typeof createGateway>>["gateway"];

async function runSkewed(id: string, offsetMs: number, certFromMsAgo?: number, runMs = RUN_MS, running: (g: Gw, accepted: Set<string>) => boolean = (_g, a) => a.size > 200): Promise<Outcome & { held: number; warnings: string[]; rx: ReturnType<Awaited<ReturnType<typeof newStack>>["receiver"]>; stop: () => Promise<void> }> {
  const stack = await newStack();
  const rx = stack.receiver(silentLogger(), "r1", { shared: false });
  await rx.service.start();
  const gw = await stack.addGateway(id, SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 10;
    Object.assign(cfg.uplink as Record<string, unknown>, { receiptResendMs: 2000 });
  });
  if (certFromMsAgo !== undefined) {
    // A certificate issued earlier (a gateway in service for days), instead of the one issued just now.
    const ca = { certPem: readFileSync(stack.pki.caCert, "utf8"), keyPem: readFileSync(stack.pki.caKey, "utf8") };
    const signer = await new SoftwareKeyStore(gw.config.identity.keyDir as string).open("gateway");
    const issued = await issueCertificate({
      ca: { ...ca, certDer: Buffer.from(new X509Certificate(ca.certPem).raw) }, commonName: id, publicKey: signer.publicKey(), usage: "client",
      sanUris: [`urn:otgw:gateway:${id}`], window: { notBefore: new Date(Date.now() - certFromMsAgo), notAfter: new Date(Date.now() + 30 * 86_400_000) },
    });
    writeFileSync(gw.config.identity.certFile, issued.certPem);
  }
  const { accepted, onCommitted } = acceptedFrames();
  const warnings: string[] = [];
  const { gateway } = await createGateway({
    config: gw, logger: createLogger({ level: "warn", destination: { write: (l: string) => void warnings.push(l) } }), clock: offsetClock(offsetMs),
    onCommitted,
  });
  await gateway.start();
  await waitFor(() => running(gateway, accepted), "the skewed gateway to accept (or hold) readings");
  await sleep(runMs);
  const held = gateway.heldRecords();
  // Everything that can be receipted is, well within this; what cannot stays queued.
  await gateway.stop(30_000);
  const quarantined = rx.store.db.prepare("SELECT reason, detail FROM quarantine WHERE gateway_id = ?").all(id) as Array<{ reason: string; detail: string }>;
  // The session-opens' refusals (the data frames of a refused session are refused after them, for that).
  const refusedOpens = quarantined.filter((q) => q.reason === "UNKNOWN_GATEWAY" || q.reason === "CREATED_OUT_OF_RANGE");
  console.log(`${id}: receiver quarantine by reason ${JSON.stringify(Object.fromEntries([...new Set(quarantined.map((q) => q.reason))].map((r) => [r, quarantined.filter((q) => q.reason === r).length])))}; e.g. ${JSON.stringify([...new Map(quarantined.map((q) => [q.reason, q.detail])).values()])}`);
  const ts = rx.store.db.prepare("SELECT gateway_ts_ns AS g, received_at AS r FROM verified WHERE gateway_id = ?").all(id) as Array<{ g: string; r: string }>;
  const skews = ts.map((t) => Number(BigInt(t.g) / 1_000_000n) - Date.parse(t.r)).sort((a, b) => a - b);
  return {
    rx, warnings, accepted, held, queueDepth: gateway.stats.queueDepth, counters: gateway.uplinkCounters(), refusedOpens,
    skewMs: skews.length > 0 ? skews[Math.floor(skews.length / 2)] : undefined,
    stop: async () => { await rx.service.stop(); rx.store.close(); await stack.stop(); },
  };
}

const reasonsOf = (o: Outcome): string => JSON.stringify([...new Set(o.refusedOpens.map((r) => r.reason))]);

void test("gateway clock 1 h behind, certificate issued minutes ago: not valid yet at the gateway's clock, so no session is opened; every reading is held on disk at the gateway, nothing is sent or refused, the log names the clock", async () => {
  // The certificate is back-dated by 5 minutes only, so at the gateway's clock it is not valid yet: the
  // gateway opens no session (a receiver would refuse it, UNKNOWN_GATEWAY 'not valid at') and holds the
  // readings on disk (docs/queue.md "Held readings") until its clock or its certificate is right.
  const o = await runSkewed("gw-skew-minus", -HOUR_MS, undefined, 10_000, (g) => g.heldRecords() > 200);
  try {
    const a = account(o.rx.store, "gw-skew-minus", o.accepted);
    const refused = (o.rx.store.db.prepare("SELECT count(*) AS n FROM quarantine WHERE gateway_id = ?").get("gw-skew-minus") as { n: number }).n;
    console.log(`# fault: held ${o.held} readings at the gateway, accepted into the queue ${a.accepted}, verified ${a.verified}, refused ${refused}, missing 0, duplicates 0 (clock -1 h, fresh certificate: held, not sent)`);
    assert.equal(a.accepted, 0, "no data frame was sealed under a certificate not valid at the gateway's clock");
    assert.equal(a.verified, 0);
    assert.equal(refused, 0, "nothing was sent for the receiver to refuse");
    assert.ok(o.held > 200, `the readings are held on disk (${o.held})`);
    const errors = o.warnings.map((l) => JSON.parse(l) as { msg: string; reason?: string }).filter((l) => l.reason === "not-yet-valid");
    assert.equal(errors.length, 1, "one 'not valid yet' report per episode");
    assert.match(errors[0]?.msg ?? "", /not valid yet at this gateway's clock.*held on disk.*check the gateway's clock/);
  } finally {
    await o.stop();
  }
});

void test("gateway clock 1 h behind, certificate valid for two days: every accepted reading verified exactly once, gatewayTs an hour behind", async () => {
  const o = await runSkewed("gw-skew-minus-old", -HOUR_MS, 2 * 86_400_000);
  try {
    const a = account(o.rx.store, "gw-skew-minus-old", o.accepted);
    assertExact("clock -1 h, certificate valid for days", a, `gatewayTs - receivedAt median ${o.skewMs} ms; ${o.queueDepth} left queued`);
    assert.equal(o.queueDepth, 0);
    assert.ok(o.skewMs !== undefined && Math.abs(o.skewMs + HOUR_MS) < 60_000, `the receiver stores the gateway's time as sealed (${o.skewMs} ms)`);
  } finally {
    await o.stop();
  }
});

void test("gateway clock 1 h ahead: every accepted reading verified exactly once, or refused with a clock reason and still queued at the gateway", async () => {
  const o = await runSkewed("gw-skew-plus", HOUR_MS);
  try {
    const a = account(o.rx.store, "gw-skew-plus", o.accepted);
    if (a.verified > 0) {
      assertExact("clock +1 h", a, `accepted by this receiver; gatewayTs - receivedAt median ${o.skewMs} ms; ${o.queueDepth} left queued`);
      assert.equal(o.queueDepth, 0);
      assert.ok(o.skewMs !== undefined && Math.abs(o.skewMs - HOUR_MS) < 60_000, `the receiver stores the gateway's time as sealed (${o.skewMs} ms)`);
    } else {
      console.log(`# fault: accepted ${a.accepted}, verified 0, missing 0, duplicates 0 (clock +1 h: refused ${reasonsOf(o)}, ${o.queueDepth} frames kept queued at the gateway)`);
      assert.ok(o.refusedOpens.length > 0);
      for (const r of o.refusedOpens) assert.equal(r.reason, "CREATED_OUT_OF_RANGE", r.detail);
      assert.ok(o.queueDepth >= a.accepted, "every accepted reading is still queued at the gateway");
    }
  } finally {
    await o.stop();
  }
});
