import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { silentLogger } from "../../kernel/log.js";
import { buildReceiver } from "../../ingest/receiver.js";
import type { IngestStore } from "../../ingest/store.js";
import { waitFor } from "./cli-support.js";
import { assertExactlyOnceInOrder, startFleet, type Fleet } from "./fleet-fixture.js";

const me = import.meta.url;
const MESSAGES = 6000;

/** The sessions a receiver knows, each with whether its final checkpoint closed it. */
function sessionsClosed(store: IngestStore): Map<string, boolean> {
  const rows = store.db.prepare("SELECT session_id AS id, state FROM sessions").all() as Array<{ id: string; state: string }>;
  return new Map(rows.map((r) => [r.id, (JSON.parse(r.state) as { closed: boolean }).closed]));
}

/**
 * Session 1 saw a TPM gateway (TLS through its sidecar) stop reaching the receiver after a mosquitto
 * restart. The gateway was fine: the receiver's shared subscription was gone (mosquitto does not
 * persist $share subscriptions) and its "subscribe on every connect" never reached the broker, because
 * MQTT.js skips a subscribe to a topic it already subscribed (fixed: resubscribe: false). This replays
 * it with two receivers: a plain persistent subscription (the documented single-receiver setup) that
 * must get everything exactly once, and a $share one that must resume, its losses reported as gaps.
 */
void describe("broker restart while a TPM gateway publishes through its TLS sidecar", () => {
  let fleet: Fleet;
  let shared: ReturnType<typeof buildReceiver>;
  before(async () => {
    fleet = await startFleet({ certLifetimeS: 86_400, receiverGroup: null, from: me });
    shared = buildReceiver({
      url: fleet.broker.url, caFile: join(fleet.caDir, "ca.crt"), certFile: join(fleet.dir, "ingest.crt"), keyFile: join(fleet.dir, "ingest.key"), fleetCaFile: join(fleet.caDir, "ca.crt"),
      recipientKeyFile: join(fleet.dir, "receiver", "receiver.key.pem"), dbFile: join(fleet.dir, "shared.db"), group: "otgw-ingest", clientId: "ingest-shared", crlFile: join(fleet.caDir, "crl.pem"),
    }, silentLogger());
    await shared.revocation?.load();
    await shared.service.start();
  });
  after(async () => {
    await shared?.service.stop();
    shared?.store.close();
    await fleet?.stop();
  });

  void it("the gateway reconnects through its sidecar, the backlog drains, both receivers resume", async () => {
    const cfg = await fleet.provision("gw-restart", { rateHz: 20 });
    const { gateway, identity, limit } = await fleet.gateway(cfg, MESSAGES);
    await gateway.start();
    const plain = fleet.receiver.store;
    try {
      await waitFor("traffic before the restart", () => plain.counts().verified > 1000, 120_000);
      await fleet.broker.restart();
      const sharedAtRestart = shared.store.counts().verified;
      await limit;
      await gateway.stop(120_000);
      const diag = (): string => `gateway ${JSON.stringify(gateway.stats)} uplink ${JSON.stringify(gateway.uplinkCounters())} plain ${JSON.stringify(plain.counts())} shared ${JSON.stringify(shared.store.counts())}`;
      assert.equal(gateway.stats.queueDepth, 0, `everything acknowledged: ${diag()}`);
      assert.equal(gateway.uplinkCounters()?.reconnects, 1, diag());
      await waitFor("the plain receiver to verify everything", () => plain.counts().verified >= gateway.stats.publishedData, 120_000).catch((e: Error) => { throw new Error(`${e.message}: ${diag()}`); });
      assert.equal(plain.counts().verified, gateway.stats.publishedData);
      // Frames in flight when the broker stopped are resent; the receiver keeps them once (REPLAY refusals).
      for (const reason of Object.keys(plain.counts().byReason)) assert.equal(reason, "REPLAY", diag());
      assertExactlyOnceInOrder(fleet.receiver);

      // The gateway stopped cleanly, so the last frame of each of its sessions (all opened before the
      // restart) is that session's final checkpoint, and the plain receiver, which lost nothing, sees
      // them all. Once the $share receiver has closed the same sessions it has handled everything the
      // broker will ever deliver to it: no quiet period to guess.
      await waitFor("the plain receiver to see every session's final checkpoint", () => {
        const s = sessionsClosed(plain);
        return s.size > 0 && [...s.values()].every(Boolean);
      }, 120_000).catch((e: Error) => { throw new Error(`${e.message}: ${diag()}`); });
      const sessions = [...sessionsClosed(plain).keys()];
      await waitFor("the $share receiver to see the same final checkpoints", () => {
        const s = sessionsClosed(shared.store);
        return sessions.every((id) => s.get(id) === true);
      }, 120_000).catch((e: Error) => { throw new Error(`${e.message}: ${diag()}`); });
      // The $share receiver resumed (the stall). What reached no shared subscriber while it resubscribed
      // (mosquitto dropped the $share subscription with the restart) is not silently missing: the
      // receiver reports it as sequence gaps and checkpoint mismatches (docs/topics.md).
      const sc = shared.store.counts();
      assert.ok(sc.verified > sharedAtRestart + 1000, `the shared receiver resumed after the restart: ${diag()}`);
      const missing = gateway.stats.publishedData - sc.verified;
      if (missing > 0) assert.ok((sc.events.SEQUENCE_GAP ?? 0) + (sc.events.CHECKPOINT_MISMATCH ?? 0) > 0, `the ${missing} frames the $share receiver missed are reported: ${diag()}`);
      console.log(`broker restart: ${gateway.stats.publishedData} frames; plain subscription verified all once (${plain.counts().byReason.REPLAY ?? 0} resent frames refused as REPLAY); $share resumed, missed ${missing} published before it resubscribed (${sc.events.SEQUENCE_GAP ?? 0} gaps, ${sc.events.CHECKPOINT_MISMATCH ?? 0} checkpoint mismatches reported)`);
    } finally {
      await identity.close?.();
    }
  });
});
