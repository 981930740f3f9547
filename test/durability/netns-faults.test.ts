/**
 * Issue #14, delivery faults on the gateway ↔ broker path: the gateway runs as a child process inside
 * a network namespace this test creates (devkit/netns.ts, veth pair in a private 10.213.x.y/30);
 * mosquitto listens on the host side of the veth and the receiver runs here, outside. nftables inside
 * the namespace makes the faults (this kernel has no netem): a partition of 150 s, 5 % random loss,
 * and the link flapping every few seconds. Each test ends with exact accounting at the receiver.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import { mulberry32 } from "../../hal/sim/prng.js";
import { createNetns, type NetNs } from "../../devkit/netns.js";
import { createDevStack, type DevStack } from "../../devkit/dev-stack.js";
import type { GatewayStats } from "../../firmware/runtime/gateway.js";
import type { UplinkCounters } from "../../firmware/uplink/types.js";
import { SIM_EXAMPLE, waitFor } from "../e2e/harness.js";
import { account, assertExact } from "./accounting.js";

/**
 * 150 s: longer than both ends' keepalive verdict (1.5 × 30 s: the gateway and mosquitto each declare
 * the connection dead while the partition lasts), longer than the gateway's reconnect backoff cap
 * (60 s: it is in its slowest retry when the link heals) and than fifteen receipt resend periods, so
 * the partition is a real one and not a TCP hiccup; short enough that the file stays a few minutes.
 */
const PARTITION_MS = Number(process.env.OTGW_PARTITION_MS ?? 150_000);

interface Progress { final: boolean; stats: GatewayStats; counters: UplinkCounters; backlog: number }

let ns: NetNs;
let stack: DevStack;
let rx: ReturnType<DevStack["receiver"]>;

before(async () => {
  ns = createNetns("f");
  stack = await createDevStack(mkdtempSync(join(tmpdir(), "otgw-netns-")), { brokerHost: ns.hostAddr });
  rx = stack.receiver(silentLogger(), "r1", { shared: false });
  await rx.service.start();
});

after(async () => {
  await rx.service.stop();
  rx.store.close();
  await stack.stop();
  ns.destroy();
});

/** Starts a gateway inside the namespace; resolves with a handle once it reports progress. */
async function nsGateway(id: string) {
  const gw = await stack.addGateway(id, SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 10;
    cfg.envelope = { checkpointEveryMessages: 500, checkpointEveryMs: 1000 };
    Object.assign(cfg.uplink as Record<string, unknown>, { receiptResendMs: 3000, reconnectMaxMs: 10_000 });
  });
  const acceptedFile = join(stack.dir, `${id}.accepted`);
  const child = ns.exec(process.execPath, [join(repoRoot(), "dist", "test", "support", "fault-gateway.js"), gw.file, acceptedFile, "240000"], { stdio: ["ignore", "pipe", "inherit"] });
  let last: Progress | undefined;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  if (!child.stdout) throw new Error("no stdout from the gateway child");
  createInterface({ input: child.stdout }).on("line", (l) => { try { last = JSON.parse(l) as Progress; } catch { /* not ours */ } });
  const progress = (): Progress => {
    assert.equal(child.exitCode, null, `the gateway in the namespace exited early (${child.exitCode})`);
    return last ?? { final: false, stats: { publishedData: 0 } as GatewayStats, counters: {} as UplinkCounters, backlog: 0 };
  };
  return {
    progress,
    /** SIGTERM: the child drains (up to 240 s until everything is receipted) and prints its final counters. */
    stop: async (): Promise<Progress> => {
      child.kill("SIGTERM");
      assert.equal(await exited, 0, "the gateway in the namespace exits cleanly");
      assert.ok(last?.final, "the gateway printed its final counters");
      return last;
    },
    kill: () => { if (child.exitCode === null) child.kill("SIGKILL"); },
    accepted: (): Set<string> => new Set(existsSync(acceptedFile) ? readFileSync(acceptedFile, "utf8").split("\n").filter(Boolean) : []),
  };
}

const verifiedOf = (id: string): number => (rx.store.db.prepare("SELECT count(*) AS n FROM verified WHERE gateway_id = ?").get(id) as { n: number }).n;

function summary(p: Progress): string {
  const c = p.counters;
  return `gateway: ${c.reconnects} reconnects, ${c.resent} resent, ${c.receipts} receipts, ${c.receiptsRefused} refused, ${c.notDelivered} PUBACK-16, ${p.stats.queueDepth} left queued`;
}

void test(`partition of ${PARTITION_MS / 1000} s between the gateway's namespace and the broker, then healed: every accepted reading verified exactly once`, async () => {
  const g = await nsGateway("gw-part");
  try {
    await waitFor(() => verifiedOf("gw-part") > 300, "traffic before the partition");
    ns.partition();
    await sleep(5000); // what was in flight when the partition began lands or is lost
    const base = verifiedOf("gw-part");
    const sealedBefore = g.progress().stats.sealed;
    await sleep(PARTITION_MS - 5000);
    const during = verifiedOf("gw-part") - base;
    const queued = g.progress().backlog;
    const sealedDuring = g.progress().stats.sealed - sealedBefore;
    ns.heal();
    await waitFor(() => g.progress().backlog < 200, "the backlog to drain after the partition heals", 300_000);
    await sleep(5000);
    const end = await g.stop();
    const a = account(rx.store, "gw-part", g.accepted());
    assertExact("netns partition", a, `${PARTITION_MS / 1000} s partition, ${sealedDuring} sealed and ${queued} queued during it, ${during} verified during it; ${summary(end)}; ${a.replaysRefused} replays refused`);
    assert.equal(during, 0, "nothing crossed the partition");
    assert.ok(queued > 1000, `the queue held the readings of the partition (${queued})`);
    assert.ok(end.counters.reconnects >= 1, "the gateway reconnected after the partition");
    assert.equal(end.stats.queueDepth, 0, "everything was receipted and left the queue");
    assert.equal(end.counters.receiptsRefused, 0);
  } finally {
    g.kill();
    ns.heal();
  }
});

void test("5 % random packet loss on the namespace's link for 60 s under load: every accepted reading verified exactly once", async () => {
  const g = await nsGateway("gw-loss");
  try {
    await waitFor(() => verifiedOf("gw-loss") > 300, "traffic before the loss");
    ns.loss(5);
    assert.match(ns.rules(), /numgen random mod 100 < 5 drop/, "the loss rule is in place");
    const base = verifiedOf("gw-loss");
    await sleep(60_000);
    const during = verifiedOf("gw-loss") - base;
    ns.heal();
    await sleep(5000);
    const end = await g.stop();
    const a = account(rx.store, "gw-loss", g.accepted());
    assertExact("netns 5 % loss", a, `60 s of 5 % loss, ${during} verified during it; ${summary(end)}; ${a.replaysRefused} replays refused`);
    assert.ok(during > 1000, `readings kept arriving through the loss (${during})`);
    assert.equal(end.stats.queueDepth, 0);
    assert.equal(end.counters.receiptsRefused, 0);
  } finally {
    g.kill();
    ns.heal();
  }
});

void test("the broker link flapping every few seconds (down 2–6 s, up 2–6 s, 60 s; every other outage resets the TCP connection): every accepted reading verified exactly once", async () => {
  const g = await nsGateway("gw-flap");
  const rnd = mulberry32(14);
  const pattern: string[] = [];
  try {
    await waitFor(() => verifiedOf("gw-flap") > 300, "traffic before the flapping");
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const down = 2000 + Math.floor(rnd() * 4000);
      const up = 2000 + Math.floor(rnd() * 4000);
      const reset = pattern.length % 2 === 1;
      pattern.push(`${down}${reset ? "r" : ""}/${up}`);
      if (reset) ns.reset();
      else ns.partition();
      await sleep(down);
      ns.heal();
      await sleep(up);
    }
    await waitFor(() => g.progress().backlog < 200, "the backlog to drain after the flapping", 300_000);
    await sleep(5000);
    const end = await g.stop();
    const a = account(rx.store, "gw-flap", g.accepted());
    assertExact("netns flapping link", a, `${pattern.length} flaps (down/up ms, r = with TCP resets: ${pattern.join(" ")}); ${summary(end)}; ${a.replaysRefused} replays refused`);
    assert.ok(pattern.length >= 5);
    assert.ok(end.counters.reconnects >= 1, "the resets tore the connection down and the gateway reconnected");
    assert.equal(end.stats.queueDepth, 0);
    assert.equal(end.counters.receiptsRefused, 0);
  } finally {
    g.kill();
    ns.heal();
  }
});
