/**
 * Issue #14: a slow link. The gateway reaches mosquitto only through devkit/delay-relay.ts, which
 * delays every chunk in each direction by 300 ms ± 100 ms (order kept per direction), so each PUBACK
 * and each receipt comes 600 ms ± 200 ms after its publish: more than the uplink's window in flight,
 * receipts later than several of the receiver's batching intervals. Under load, every reading the
 * gateway's queue accepted must be verified at the receiver exactly once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../kernel/log.js";
import { mulberry32 } from "../../hal/sim/prng.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { startDelayRelay } from "../../devkit/delay-relay.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";
import { acceptedFrames, account, assertExact } from "./accounting.js";

const DELAY_MS = 300;
const JITTER_MS = 100;

void test("delay relay: every chunk waits delay ± jitter, and each direction keeps its byte order", async () => {
  const received: Buffer[] = [];
  const echo = createServer((s) => s.on("data", (b: Buffer) => { received.push(b); s.write(b); }));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  const addr = echo.address();
  const relay = await startDelayRelay({ targetHost: "127.0.0.1", targetPort: typeof addr === "object" && addr ? addr.port : 0, delayMs: DELAY_MS, jitterMs: JITTER_MS, random: mulberry32(7) });
  try {
    const c = connect({ host: "127.0.0.1", port: relay.port });
    c.setNoDelay(true);
    await new Promise<void>((r) => c.once("connect", r));
    const back: Buffer[] = [];
    c.on("data", (b: Buffer) => back.push(b));
    const sent: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const b = Buffer.from(`chunk-${String(i).padStart(3, "0")};`);
      sent.push(b);
      c.write(b);
      await sleep(7);
    }
    await waitFor(() => Buffer.concat(back).length === Buffer.concat(sent).length, "the echo to come back through the relay");
    c.destroy();
    assert.equal(Buffer.concat(received).toString(), Buffer.concat(sent).toString(), "forward direction in order");
    assert.equal(Buffer.concat(back).toString(), Buffer.concat(sent).toString(), "return direction in order");
    const { min, max } = relay.observedMs;
    console.log(`delay relay: ${relay.chunks} chunks, each waited ${min}..${max} ms`);
    assert.ok(min >= DELAY_MS - JITTER_MS - 1, `no chunk overtook the delay (min ${min} ms)`);
    assert.ok(max > DELAY_MS, `jitter spread the delays (max ${max} ms)`);
  } finally {
    await relay.close();
    echo.close();
  }
});

void test(`gateway → ${DELAY_MS} ms ± ${JITTER_MS} ms relay → broker under load: every accepted reading verified exactly once`, async () => {
  const stack = await newStack();
  const rx = stack.receiver(silentLogger(), "r1", { shared: false });
  await rx.service.start();
  const relay = await startDelayRelay({ targetHost: "127.0.0.1", targetPort: stack.broker.port, delayMs: DELAY_MS, jitterMs: JITTER_MS, random: mulberry32(300) });
  const gw = await stack.addGateway("gw-delay", SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 25;
    cfg.envelope = { checkpointEveryMessages: 500, checkpointEveryMs: 1000 };
    Object.assign(cfg.uplink as Record<string, unknown>, { url: `mqtts://127.0.0.1:${relay.port}` });
  });
  const { accepted, onCommitted } = acceptedFrames();
  const { gateway } = await createGateway({ config: gw, logger: silentLogger(), onCommitted });
  let stopped = false;
  try {
    await gateway.start();
    await waitFor(() => gateway.stats.publishedData > 300, "traffic through the relay");
    await sleep(60_000);
    stopped = true;
    await gateway.stop(180_000);
    const c = gateway.uplinkCounters();
    const a = account(rx.store, "gw-delay", accepted);
    assertExact("300 ms ± 100 ms delay relay", a, `60 s at 300 readings/s; relay: ${relay.connections} connection(s), ${relay.chunks} chunks, each delayed ${relay.observedMs.min}..${relay.observedMs.max} ms; gateway: ${c.resent} resent, ${c.receipts} receipts, ${c.reconnects} reconnects; ${a.replaysRefused} replays refused`);
    assert.equal(gateway.stats.queueDepth, 0, "every frame was receipted and left the queue");
    assert.equal(gateway.stats.publishedData, accepted.size, "the gateway counts as delivered exactly what was receipted");
    assert.equal(c.receiptsRefused, 0);
    assert.ok(relay.observedMs.min >= DELAY_MS - JITTER_MS - 1, "the relay really delayed the traffic");
  } finally {
    if (!stopped) await gateway.stop().catch(() => undefined);
    await relay.close();
    await rx.service.stop();
    rx.store.close();
    await stack.stop();
  }
});
