import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../kernel/log.js";
import { newStack, simGateway, waitFor } from "../e2e/harness.js";

const OUTAGE_MS = Number(process.env.OTGW_OUTAGE_MS ?? 120_000);

void test(`broker down for ${OUTAGE_MS / 1000} s while readings keep coming: the backlog drains after restart, nothing lost, nothing twice`, async () => {
  const stack = await newStack();
  // One receiver on a plain persistent subscription: mosquitto restores it after a restart ($share it does not).
  const { service, store } = stack.receiver(silentLogger(), "r1", { shared: false });
  await service.start();
  const { gateway } = await simGateway(stack, "gw-outage", Number.MAX_SAFE_INTEGER, silentLogger(), 50);
  try {
    await gateway.start();
    await waitFor(() => gateway.stats.publishedData > 500, "traffic before the outage");
    await stack.broker.stop();
    const sealedAtOutage = gateway.stats.sealed;
    await sleep(OUTAGE_MS);
    const backlog = gateway.backlog();
    assert.ok(gateway.stats.sealed - sealedAtOutage > 1000, "readings kept coming during the outage");
    assert.ok(backlog > 1000, `the queue held them (${backlog} frames waiting)`);
    await stack.broker.restart();
    await waitFor(() => gateway.backlog() < 100, "the backlog to drain after the broker returns", 600_000);
    await gateway.stop(120_000);
    assert.equal(gateway.stats.queueDepth, 0, "everything delivered");
    await waitFor(() => store.counts().verified >= gateway.stats.publishedData, "the receiver to verify everything", 300_000);

    const c = store.counts();
    assert.equal(c.verified, gateway.stats.publishedData);
    assert.equal(c.events.SEQUENCE_GAP ?? 0, 0, "no gap in any session");
    for (const reason of Object.keys(c.byReason)) assert.equal(reason, "REPLAY", `only redeliveries are refused: ${JSON.stringify(c.byReason)}`);
    const next = new Map<string, bigint>();
    for (const r of store.verifiedRecords()) {
      const want = next.get(r.sessionId) ?? 1n;
      assert.equal(r.seq, want, `session ${r.sessionId} in order, exactly once`);
      next.set(r.sessionId, want + 1n);
    }
    console.log(`outage test: ${OUTAGE_MS / 1000} s outage, ${backlog} frames queued, ${c.verified} messages verified once, ${c.byReason.REPLAY ?? 0} redeliveries refused`);
  } finally {
    await service.stop();
    store.close();
    await stack.stop();
  }
});
