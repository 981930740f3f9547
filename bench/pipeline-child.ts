/**
 * One bench process (started by bench/pipeline.ts through runChild), so peak RSS is the gateway's own:
 *  - pipeline <config> <n> <trials>: the real Gateway (normalize → validate → seal → outbox → SQLite queue
 *    → MQTT v5 uplink over mTLS) fed by an in-process source as fast as the backlog allows; rate =
 *    messages PUBACKed per second from the first reading (sent once the uplink is connected, as the raw
 *    baseline's client is) to the last PUBACK; sessions open inside that time.
 *  - raw <config> <n> <trials> <bytes>: MQTT.js alone, QoS 1, the uplink's window of publishes in flight,
 *    same broker, same client certificate, same payload size.
 *  - backlog <config> <n>: n frames already queued (the outage), then the uplink starts: drain rate.
 *  - field <config> <n>: the real Gateway with the config's own sources (bench/pipeline.ts gives it the
 *    simulated plant and an OPC UA source) until n records are published: its peak RSS.
 * Prints one JSON line: { rates, maxRssMb, frameBytes? }.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { silentLogger } from "../kernel/log.js";
import { loadConfig } from "../firmware/config/load.js";
import { openIdentity } from "../provisioning/identity.js";
import type { Gateway } from "../firmware/runtime/gateway.js";
import { createGateway } from "../firmware/runtime/create-gateway.js";
import { SqliteQueue } from "../firmware/queue/sqlite-queue.js";
import { MqttUplink } from "../firmware/uplink/mqtt-uplink.js";
import { buildTlsOptions } from "../kernel/tls.js";
import type { RawReading, ReadingSink, Source, SourceHealth } from "../hal/source.js";

const POINTS = ["motor1/vibration_rms", "motor1/bearing_temp", "motor1/motor_current", "motor1/discharge_pressure"];

/**
 * Frames the source lets wait in the gateway (queue, outbox) before it pauses: 8 uplink windows,
 * enough to keep the window full. The pipeline is measured in its normal state, an uplink that keeps
 * up with a short queue; draining a deep backlog from disk is backlog-drain-msgs.
 */
const MAX_BACKLOG = 2048;

/** Emits `n` readings as fast as the gateway's backlog allows (bounded, like a real source). */
class BurstSource implements Source {
  readonly id = "plant";
  readonly adapter = "sim";
  private sent = 0;
  private running = false;
  /** Set by the bench once the uplink is connected: like the raw baseline, connecting is not timed. */
  go = false;
  constructor(private readonly n: number, private readonly backlog: () => number) {}
  uriFor(a: string): string { return `sim://plant/${a}`; }
  addresses(): readonly string[] { return POINTS; }
  start(sink: ReadingSink): Promise<void> {
    this.running = true;
    const step = (): void => {
      if (!this.running || this.sent >= this.n) return;
      if (this.go && this.backlog() < MAX_BACKLOG) {
        const ts = BigInt(Date.now()) * 1_000_000n;
        for (let k = 0; k < 256 && this.sent < this.n; k++, this.sent++) {
          const r: RawReading = { address: POINTS[this.sent % POINTS.length]!, value: 1 + (this.sent % 7) * 0.25, sourceTsNs: ts, quality: "good", qualityDetail: null };
          sink(r);
        }
        setImmediate(step);
      } else setTimeout(step, 1);
    };
    setImmediate(step);
    return Promise.resolve();
  }
  stop(): Promise<void> { this.running = false; return Promise.resolve(); }
  health(): SourceHealth { return { state: "running", detail: null, readings: this.sent, errors: 0 }; }
}

/**
 * Peak RSS of this process in MB. VmHWM belongs to this process image; getrusage's maxRSS does not:
 * Linux carries it across fork and exec, so a child of a bench that had grown to 400 MB reported
 * 400 MB whatever the gateway itself used.
 */
function rssMb(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  if (!m?.[1]) throw new Error("bench: /proc/self/status has no VmHWM line (Linux only)");
  return Number(m[1]) / 1024;
}

async function pipeline(configFile: string, n: number, trials: number): Promise<void> {
  const loaded = loadConfig(configFile);
  const id = await openIdentity(loaded.config);
  const rates: number[] = [];
  const cpuUs: number[] = [];
  let frameBytes = 0;
  let frames = 0;
  for (let t = 0; t <= trials; t++) {
    let gw: Gateway | null = null;
    const src = new BurstSource(n, () => gw?.backlog() ?? 0);
    const wired = await createGateway({
      config: loaded, logger: silentLogger(), identity: id, sources: [src], maxRecords: n,
      onCommitted: (fs) => { for (const f of fs) if (f.data) { frameBytes += f.payload.length; frames++; } },
    });
    gw = wired.gateway;
    await gw.start();
    while (!gw.uplinkConnected()) await new Promise((r) => setTimeout(r, 1));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    src.go = true;
    await wired.limitReached;
    await gw.flushed(5);
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    await gw.stop();
    if (t > 0) {
      rates.push(n / s); // trial 0 warms up (JIT, TLS, SQLite cache)
      cpuUs.push((c.user + c.system) / n);
    }
  }
  const m = process.memoryUsage();
  const mb = (n: number): number => Math.round(n / 2 ** 20);
  console.log(JSON.stringify({ rates, cpuUs, maxRssMb: rssMb(), frameBytes: Math.round(frameBytes / Math.max(1, frames)), mem: { heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers), rss: mb(m.rss) } }));
}

async function raw(configFile: string, n: number, trials: number, bytes: number): Promise<void> {
  const { config } = loadConfig(configFile);
  const id = await openIdentity(config);
  const client = await mqtt.connectAsync(config.uplink.url, { protocolVersion: 5, clientId: `${config.gateway.id}-raw`, clean: true, reconnectPeriod: 0, ...buildTlsOptions(id.tls) });
  const topic = `otgw/v1/${config.gateway.id}/raw`;
  const payload = randomBytes(bytes);
  const window = config.uplink.window;
  const rates: number[] = [];
  const cpuUs: number[] = [];
  for (let t = 0; t <= trials; t++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      let acked = 0;
      const more = (): void => {
        while (sent < n && sent - acked < window) {
          sent++;
          client.publish(topic, payload, { qos: 1 }, (err) => {
            if (err) return reject(err);
            if (++acked === n) resolve();
            else more();
          });
        }
      };
      more();
    });
    const c = process.cpuUsage(c0);
    if (t > 0) {
      rates.push(n / ((performance.now() - t0) / 1000));
      cpuUs.push((c.user + c.system) / n);
    }
  }
  await client.endAsync();
  console.log(JSON.stringify({ rates, cpuUs, maxRssMb: rssMb() }));
}

async function backlog(configFile: string, n: number): Promise<void> {
  const { config } = loadConfig(configFile);
  const id = await openIdentity(config);
  const queue = SqliteQueue.open(join(config.gateway.stateDir, "backlog.db"));
  const payload = randomBytes(300);
  const topic = `otgw/v1/${config.gateway.id}/backlog`;
  for (let i = 0; i < n; i += 4096) {
    queue.enqueue(Array.from({ length: Math.min(4096, n - i) }, () => ({ stream: "backlog", topic, priority: 5, payload })));
  }
  const uplink = new MqttUplink({ url: config.uplink.url, clientId: config.gateway.id, tls: id.tls, queue, logger: silentLogger(), window: config.uplink.window });
  const t0 = performance.now();
  uplink.start();
  while (queue.depth().count > 0) await new Promise((r) => setTimeout(r, 20));
  const s = (performance.now() - t0) / 1000;
  await uplink.stop();
  queue.close();
  console.log(JSON.stringify({ rates: [n / s], maxRssMb: rssMb() }));
}

/** The config's own sources (with an OPC UA one, node-opcua is loaded as on a device): peak RSS. */
async function field(configFile: string, n: number): Promise<void> {
  const loaded = loadConfig(configFile);
  const byStream: Record<string, number> = {};
  const wired = await createGateway({
    config: loaded, logger: silentLogger(), maxRecords: n,
    onCommitted: (fs) => { for (const f of fs) if (f.data) byStream[f.stream] = (byStream[f.stream] ?? 0) + 1; },
  });
  await wired.gateway.start();
  await wired.limitReached;
  await wired.gateway.flushed(5);
  const published = wired.gateway.stats.publishedData;
  await wired.stop(30_000);
  const m = process.memoryUsage();
  console.log(JSON.stringify({ rates: [], maxRssMb: rssMb(), published, byStream, heapUsedMb: Math.round(m.heapUsed / 2 ** 20) }));
}

const [mode, file, count, trials, bytes] = process.argv.slice(2);
const num = (s: string | undefined, d: number): number => (s === undefined ? d : Number(s));
if (!file) throw new Error("usage: pipeline-child pipeline|raw|backlog|field <config> <n> [trials] [bytes]");
if (mode === "pipeline") await pipeline(file, num(count, 10_000), num(trials, 3));
else if (mode === "raw") await raw(file, num(count, 10_000), num(trials, 3), num(bytes, 256));
else if (mode === "backlog") await backlog(file, num(count, 10_000));
else if (mode === "field") await field(file, num(count, 10_000));
else throw new Error(`unknown mode ${mode}`);
process.exit(0);
