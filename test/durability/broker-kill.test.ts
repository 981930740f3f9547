/**
 * Issue #14: the broker is not a store of record. mosquitto is SIGKILLed (not SIGTERMed: it saves
 * nothing) under load, restarted within 0.1–0.6 s (the gateway reconnects before the receiver has
 * resubscribed, so mosquitto answers PUBACK 16 "No matching subscribers"), and once while the receiver
 * is stopped (what the broker queued for it dies with it). With receipts, every data frame the gateway's
 * queue accepted must be verified at the receiver exactly once: 0 missing, 0 duplicates.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../kernel/log.js";
import { mulberry32 } from "../../hal/sim/prng.js";
import { acceptedFrames } from "./accounting.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";

const KILLS = Number(process.env.OTGW_BROKER_KILLS ?? 10);

void test(`mosquitto SIGKILLed ${KILLS} times under load (restarts in 0.1–0.6 s, two while the receiver is stopped): every accepted reading verified exactly once`, async () => {
  const stack = await newStack();
  let rx = stack.receiver(silentLogger(), "r1", { shared: false });
  await rx.service.start();
  const gw = await stack.addGateway("gw-bkill", SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 25;
    cfg.envelope = { checkpointEveryMessages: 500, checkpointEveryMs: 1000 };
    Object.assign(cfg.uplink as Record<string, unknown>, { receiptResendMs: 3000 });
  });
  /** Data frames the gateway's queue committed, as "session:seq": what the gateway accepted. */
  const { accepted, onCommitted } = acceptedFrames();
  const { gateway } = await createGateway({ config: gw, logger: silentLogger(), onCommitted });
  const rnd = mulberry32(20261203);
  const downMs: number[] = [];
  let stopped = false;
  try {
    await gateway.start();
    await waitFor(() => gateway.stats.publishedData > 300, "traffic before the first kill");
    for (let k = 0; k < KILLS; k++) {
      const whileReceiverStopped = k === Math.floor(KILLS / 3) || k === KILLS - 2;
      if (whileReceiverStopped) {
        await rx.service.stop();
        rx.store.close();
        await sleep(1500); // the broker queues for the stopped receiver's persistent session
      }
      await stack.broker.kill();
      const down = 100 + Math.floor(rnd() * 500);
      downMs.push(down);
      await sleep(down);
      await stack.broker.start();
      if (whileReceiverStopped) {
        await sleep(3000); // the gateway is back first: PUBACK 16 for everything it sends meanwhile
        rx = stack.receiver(silentLogger(), "r1", { shared: false });
        await rx.service.start();
      }
      await sleep(1000 + Math.floor(rnd() * 1500));
    }
    // Stop the readings; stop() waits (up to 180 s) until every queued frame is receipted.
    stopped = true;
    await gateway.stop(180_000);
    const c = gateway.uplinkCounters();

    const seen = new Map<string, number>();
    const rows = rx.store.db.prepare("SELECT session_id AS s, seq, count(*) AS n FROM verified GROUP BY session_id, seq").safeIntegers(true).all() as Array<{ s: string; seq: bigint; n: bigint }>;
    for (const r of rows) seen.set(`${r.s}:${r.seq}`, Number(r.n));
    const missing = [...accepted].filter((k) => !seen.has(k));
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    const foreign = [...seen.keys()].filter((k) => !accepted.has(k)).length;
    const counts = rx.store.counts();
    console.log(`broker-kill test: ${KILLS} SIGKILLs (down ${downMs.join(", ")} ms), ${accepted.size} readings accepted, ${seen.size} verified, ` +
      `${missing.length} missing, ${duplicates} duplicates; gateway: ${c.notDelivered} PUBACK-16 not delivered, ${c.resent} resent, ${c.receipts} receipts, ` +
      `${c.receiptsRefused} refused, ${c.unreceipted} unreceipted, ${gateway.stats.queueDepth} queued; receiver: ${rx.service.receiptsSent} receipts sent, ${counts.events.SEQUENCE_GAP ?? 0} gaps, ${counts.events.GAP_FILLED ?? 0} filled, refused ${JSON.stringify(counts.byReason)}`);
    assert.equal(gateway.stats.queueDepth, 0, "every frame was receipted and left the queue");
    assert.ok(accepted.size > 1000, `the gateway accepted readings (${accepted.size})`);
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} accepted readings never verified`);
    assert.equal(duplicates, 0, "no reading verified twice");
    assert.equal(foreign, 0, "nothing verified that the gateway did not accept");
    assert.equal(gateway.stats.publishedData, accepted.size, "the gateway counts as delivered exactly what was receipted");
    assert.equal(c.receiptsRefused, 0, "no receipt refused");
    for (const reason of Object.keys(counts.byReason)) assert.equal(reason, "REPLAY", `only resends are refused: ${JSON.stringify(counts.byReason)}`);
  } finally {
    if (!stopped) await gateway.stop().catch(() => undefined);
    await rx.service.stop();
    rx.store.close();
    await stack.stop();
  }
});

void test("receiver down longer than its MQTT session expiry (--session-expiry 2), then back: every accepted reading verified exactly once", async () => {
  const stack = await newStack();
  let rx = stack.receiver(silentLogger(), "r2", { shared: false, sessionExpiryS: 2 });
  await rx.service.start();
  const gw = await stack.addGateway("gw-expiry", SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 25;
    Object.assign(cfg.uplink as Record<string, unknown>, { receiptResendMs: 2000 });
  });
  const { accepted, onCommitted } = acceptedFrames();
  const { gateway } = await createGateway({ config: gw, logger: silentLogger(), onCommitted });
  let stopped = false;
  try {
    await gateway.start();
    await waitFor(() => gateway.stats.publishedData > 200, "traffic before the receiver stops");
    await rx.service.stop();
    rx.store.close();
    await sleep(6000); // three times the session expiry: the broker forgets the session and its subscription
    const during = gateway.uplinkCounters().notDelivered;
    rx = stack.receiver(silentLogger(), "r2", { shared: false, sessionExpiryS: 2 });
    await rx.service.start();
    await sleep(3000);
    stopped = true;
    await gateway.stop(180_000);
    const rows = rx.store.db.prepare("SELECT session_id AS s, seq, count(*) AS n FROM verified GROUP BY session_id, seq").safeIntegers(true).all() as Array<{ s: string; seq: bigint; n: bigint }>;
    const seen = new Map(rows.map((r) => [`${r.s}:${r.seq}`, Number(r.n)]));
    const missing = [...accepted].filter((k) => !seen.has(k)).length;
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    console.log(`session-expiry test: ${accepted.size} readings accepted, ${seen.size} verified, ${missing} missing, ${duplicates} duplicates; ${during} PUBACK-16 while the receiver's session was gone`);
    assert.ok(during > 0, "with the session expired, the broker answered 16 (no subscriber): the case receipts exist for");
    assert.equal(gateway.stats.queueDepth, 0);
    assert.equal(missing, 0);
    assert.equal(duplicates, 0);
    assert.equal(seen.size, accepted.size);
  } finally {
    if (!stopped) await gateway.stop().catch(() => undefined);
    await rx.service.stop();
    rx.store.close();
    await stack.stop();
  }
});
