import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { AUDIT_EVENTS } from "../../firmware/audit/events.js";
import type { Gateway } from "../../firmware/runtime/gateway.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";
import { fillDisk, freeBytes, mountSmallFs } from "./fs.js";

const MIB = 1024 * 1024;

void test("gateway whose queue lives on a filling disk: drops counted and audited, no crash; when space returns the backlog drains, exactly once and in order", async () => {
  const fs = mountSmallFs("24m");
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger(), "r1", { shared: false });
  let gateway: Gateway | undefined;
  try {
    await service.start();
    const stateDir = join(fs.dir, "state");
    const gw = await stack.addGateway("gw-diskfull", SIM_EXAMPLE(), (cfg) => {
      for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 25;
      (cfg.gateway as Record<string, unknown>).stateDir = stateDir;
      cfg.queue = { maxBytes: 64 * MIB, minFreeBytes: 4 * MIB, reserveBytes: 2 * MIB };
    });
    const { gateway: g } = await createGateway({ config: gw, logger: silentLogger() });
    gateway = g;
    await g.start();
    await waitFor(() => g.stats.publishedData > 300, "traffic before the outage");

    // The broker goes away (the backlog builds up) and something else fills the disk to 5 MiB free (1 MiB above the
    // queue's margin): the queue reaches its margin within seconds and must drop by policy, while readings keep coming.
    await stack.broker.stop();
    const filler = fillDisk(fs.dir, 5 * MIB);
    const sealedAtFull = g.stats.sealed;
    await waitFor(() => (g.drops.byStream.get("temperature")?.byReason["disk-full"] ?? 0) > 500, "disk-full drops of the least urgent streams", 300_000);
    assert.ok(g.stats.sealed - sealedAtFull > 1000, "readings kept being sealed while the disk was full");
    assert.ok(freeBytes(fs.dir) < 6 * MIB, `the filesystem stayed nearly full (${freeBytes(fs.dir)} B free)`);
    // Policy: the less urgent streams (priority 2) go before vibration (1) and the audit stream (0).
    assert.equal(g.drops.byStream.get("audit")?.count ?? 0, 0, "no audit frame dropped while telemetry could be");
    const backlogAtFull = g.backlog();
    assert.ok(backlogAtFull > 1000, `the queue still held a backlog (${backlogAtFull})`);

    // Space returns, then the broker: the backlog drains.
    rmSync(filler);
    await stack.broker.restart();
    await waitFor(() => g.backlog() < 100, "the backlog to drain after space and the broker return", 600_000).catch((err: unknown) => {
      throw new Error(`${String(err)}: backlog ${g.backlog()}, in memory ${g.inMemory()}, stats ${JSON.stringify(g.stats)}, ${freeBytes(fs.dir)} B free`);
    });
    await g.stop(120_000);
    gateway = undefined;
    assert.equal(g.stats.queueDepth, 0, "everything not dropped was delivered");
    await waitFor(() => store.counts().verified >= g.stats.publishedData, "the receiver to verify everything delivered", 300_000);

    // Drops: counted by stream and reason, persisted in the queue file, and audited.
    const dropped = g.drops.total;
    assert.ok(dropped > 0);
    const audited = readFileSync(join(stateDir, "audit.jsonl"), "utf8").split("\n").filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; data: { stream: string; count: number; reason: string } })
      .filter((e) => e.type === AUDIT_EVENTS.queueDropped);
    const auditedCount = audited.reduce((n, e) => n + e.data.count, 0);
    assert.equal(auditedCount, dropped, "every dropped frame is in the audit log");
    assert.ok(audited.every((e) => e.data.reason === "disk-full" && e.data.stream !== "audit"), "all for the full disk, never the audit stream");

    // The receiver: everything delivered exactly once, in order per session; the drops are its only gaps.
    const c = store.counts();
    // A frame dropped while its PUBLISH was already on the wire may still arrive (docs/queue.md): the
    // receiver has every acknowledged frame, and at most the dropped ones on top.
    assert.ok(c.verified >= g.stats.publishedData && c.verified <= g.stats.publishedData + dropped, `verified ${c.verified}, acknowledged ${g.stats.publishedData}, dropped ${dropped}`);
    for (const reason of Object.keys(c.byReason)) assert.equal(reason, "REPLAY", `only redeliveries are refused: ${JSON.stringify(c.byReason)}`);
    const last = new Map<string, bigint>();
    let missing = 0n;
    for (const r of store.verifiedRecords()) {
      const prev = last.get(r.sessionId) ?? 0n;
      assert.ok(r.seq > prev, `session ${r.sessionId}: seq ${r.seq} after ${prev} (in order, once)`);
      missing += r.seq - prev - 1n;
      last.set(r.sessionId, r.seq);
    }
    assert.ok(missing > 0n && missing <= BigInt(dropped), `sequence gaps (${missing}) are dropped frames (${dropped} dropped)`);
    // Nothing lost that was not dropped: up to the last frame of each session, every seq arrived or was dropped.
    const span = [...last.values()].reduce((n, v) => n + v, 0n);
    assert.ok(BigInt(c.verified) + BigInt(dropped) >= span, `received ${c.verified} + dropped ${dropped} cover the ${span} seqs sent`);
    assert.ok((c.events.SEQUENCE_GAP ?? 0) > 0, "the receiver reported the gaps");
    assert.ok(existsSync(join(stateDir, "queue.db.reserve")), "the reserve is back");
    console.log(`disk-full gateway: ${dropped} frames dropped (disk-full) and audited, ${g.stats.publishedData} delivered and verified once, ${missing} missing seqs at the receiver, ${c.byReason.REPLAY ?? 0} redeliveries refused`);
  } finally {
    await gateway?.stop(1000);
    await service.stop();
    store.close();
    await stack.stop();
    fs.unmount();
  }
});
