import type { Clock } from "../../kernel/clock.js";
import { backoffDelay } from "../../kernel/backoff.js";
import { sleep, systemScheduler, type Scheduler, type Timer } from "../../kernel/scheduler.js";
import { errorText } from "../../kernel/errors.js";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import type { RawReading, ReadingSink, Source, SourceHealth } from "../source.js";
import { decodeResponse, planRequests, type ReadRequest, type RegisterSpec } from "./plan.js";
import { classifyModbusError, failureHint, type ModbusFailure } from "./quality.js";
import type { ModbusClient, ReadResult } from "./transport.js";
import { SinkDelivery } from "../delivery.js";

/** One device (unit id) on a connection, with its own poll schedule. */
export interface ModbusDeviceOptions {
  unitId: number;
  pollMs: number;
  registers: readonly RegisterSpec[];
}

export interface ModbusSourceOptions {
  id: string;
  adapter: "modbus-tcp" | "modbus-rtu";
  /** URI prefix before the address: `modbus+tcp://host:port` or `modbus+rtu:///dev/ttyUSB0?baud=19200`. */
  uriBase: string;
  devices: readonly ModbusDeviceOptions[];
  /** Opens the connection (TCP socket or serial line); called again after the connection is lost. */
  connect: () => Promise<ModbusClient>;
  /** Requests share one serial line: at most one in flight, whichever device it is for. */
  serialBus: boolean;
  /** Extra attempts after a timeout, bad frame or lost connection (not after an exception). */
  retries: number;
  /** First retry delay; doubled for each further retry. */
  retryDelayMs: number;
  /** A failing device is polled at pollMs × 2^failures, at most this often. */
  backoffMaxMs: number;
  /** Registers that may be read between two mapped ranges to save a request (0: only touching ranges). */
  maxGap: number;
  /** Poll and retry timers (default: the system's). */
  scheduler?: Scheduler;
}

interface Device {
  opts: ModbusDeviceOptions;
  requests: ReadRequest[];
  /** Consecutive polls that failed on the transport (timeout, lost connection, bad frame): the backoff exponent. */
  failures: number;
  /** The transport failure of the last poll, while the device is out. */
  lastFailure: ModbusFailure | null;
  /** When the current outage began (clock ns), for the recovery log. */
  outageSinceNs: bigint;
  /** Requests (by index) the device currently refuses with an exception: the device is alive, those points are bad. */
  refused: Map<number, ModbusFailure>;
  timer: Timer | null;
  /** Polls completed since start, and the delay chosen after the last one (pollState()). */
  polls: number;
  nextPollMs: number;
}

const FC = { co: "writeFC1", di: "writeFC2", hr: "writeFC3", ir: "writeFC4" } as const;

/**
 * Modbus TCP or RTU behind the `Source` interface. Each device polls on its own schedule; its mapped
 * registers are read in as few requests as the map allows (plan.ts) and decoded by decode.ts. Failures
 * become readings with quality `bad` and a detail (quality.ts), never exceptions: a device that stops
 * answering is retried, then polled with exponential backoff, so on a shared RTU line it costs at most
 * one timeout per backoff interval and the other devices keep their schedules. Values never reach logs.
 */
export class ModbusSource implements Source {
  readonly id: string;
  readonly adapter: string;
  private readonly log: Logger;
  private readonly devices: Device[];
  private readonly addrs: string[];
  private client: ModbusClient | null = null;
  private connecting: Promise<ModbusClient> | null = null;
  private bus: Promise<unknown> = Promise.resolve();
  private run = 0;
  private sink: ReadingSink | null = null;
  private state: SourceHealth["state"] = "stopped";
  private readonly delivery: SinkDelivery;
  private readonly scheduler: Scheduler;
  private errors = 0;

  /** Stores its collaborators and plans the requests; nothing runs until start(). */
  constructor(private readonly opts: ModbusSourceOptions, private readonly clock: Clock, logger: Logger = silentLogger()) {
    this.id = opts.id;
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.adapter = opts.adapter;
    this.log = child(logger, `hal.${opts.adapter}`);
    this.delivery = new SinkDelivery(this.log, this.id);
    this.devices = opts.devices.map((d) => ({
      opts: d, requests: planRequests(d.unitId, d.registers, opts.maxGap), failures: 0, lastFailure: null, outageSinceNs: 0n, refused: new Map(), timer: null, polls: 0, nextPollMs: 0,
    }));
    this.addrs = this.devices.flatMap((d) => d.requests.flatMap((r) => r.items.map((i) => i.address)));
  }

  uriFor(address: string): string {
    return `${this.opts.uriBase}/${address}`;
  }

  addresses(): readonly string[] {
    return this.addrs;
  }

  /** Requests per poll of each device, for tests and diagnostics. */
  requestPlan(): { unitId: number; requests: { table: string; start: number; count: number }[] }[] {
    return this.devices.map((d) => ({ unitId: d.opts.unitId, requests: d.requests.map(({ table, start, count }) => ({ table, start, count })) }));
  }

  /**
   * Each device's schedule, for tests and diagnostics: polls completed, consecutive polls that failed
   * on the transport (the backoff exponent), and the delay chosen after the last poll.
   */
  pollState(): { unitId: number; polls: number; failures: number; nextPollMs: number }[] {
    return this.devices.map((d) => ({ unitId: d.opts.unitId, polls: d.polls, failures: d.failures, nextPollMs: d.nextPollMs }));
  }

  async start(sink: ReadingSink): Promise<void> {
    if (this.sink) return;
    const run = ++this.run;
    this.sink = sink;
    this.state = "starting";
    try {
      await this.connection();
    } catch (err) {
      // Not fatal: polls report modbus-unreachable and keep reconnecting with backoff.
      this.log.warn({ source: this.id, err: errorText(err) }, "modbus connection failed at start; will retry");
    }
    if (run !== this.run) return;
    this.state = "running";
    for (const d of this.devices) this.schedule(d, 0, run);
    this.log.info({ source: this.id, devices: this.devices.length, addresses: this.addrs.length }, "modbus source started");
  }

  async stop(): Promise<void> {
    this.run++;
    this.sink = null;
    for (const d of this.devices) {
      d.timer?.cancel();
      d.timer = null;
    }
    const c = this.client;
    this.client = null;
    this.connecting = null;
    if (c) await new Promise<void>((resolve) => c.close(() => resolve()));
    this.state = "stopped";
    this.log.info({ source: this.id, readings: this.delivery.delivered, errors: this.errors + this.delivery.failed }, "modbus source stopped");
  }

  health(): SourceHealth {
    const failing = this.devices.flatMap((d) => {
      const f = d.lastFailure ?? d.refused.values().next().value;
      return f ? [`unit ${d.opts.unitId}: ${failureHint(f)}`] : [];
    });
    const detail = failing.length === 0 ? null : failing.join("; ");
    const state = this.state === "running" && failing.length > 0 ? "degraded" : this.state;
    return { state, detail, readings: this.delivery.delivered, errors: this.errors + this.delivery.failed };
  }

  private schedule(d: Device, ms: number, run: number): void {
    if (run !== this.run) return;
    d.timer = this.scheduler.setTimeout(() => {
      d.timer = null;
      void this.poll(d, run);
    }, ms).unref();
  }

  private async poll(d: Device, run: number): Promise<void> {
    const t0 = this.clock.nowNs();
    let outage: ModbusFailure | null = null;
    for (const [i, req] of d.requests.entries()) {
      if (run !== this.run) return;
      const f = await this.readWithRetries(d, req, run);
      if (run !== this.run) return;
      if (f?.kind === "exception") this.noteRefusal(d, i, req, f);
      else if (f) outage = f;
      else if (d.refused.delete(i)) {
        this.log.info({ source: this.id, unit: d.opts.unitId, table: req.table, start: req.start, count: req.count }, "modbus device answers a read again");
      }
    }
    if (run !== this.run) return;
    // Only the transport counts as a device failure: an exception is an answer, the device is alive and
    // keeps its schedule, so a refused register never pre-loads the backoff of a later real outage.
    if (outage) {
      if (d.failures++ === 0) {
        d.outageSinceNs = t0;
        this.log.warn({ source: this.id, unit: d.opts.unitId, detail: outage.detail }, "modbus device outage");
      }
      d.lastFailure = outage;
    } else if (d.failures > 0) {
      const outageMs = Math.round(Number(t0 - d.outageSinceNs) / 1e6);
      this.log.info({ source: this.id, unit: d.opts.unitId, failedPolls: d.failures, outageMs }, "modbus device recovered");
      d.failures = 0;
      d.lastFailure = null;
    }
    const next = outage ? backoffDelay(d.failures, { minMs: d.opts.pollMs, maxMs: this.opts.backoffMaxMs, jitter: 0 }) : d.opts.pollMs;
    // The poll's own duration counts towards the interval, so the schedule does not drift.
    const tookMs = Number(this.clock.nowNs() - t0) / 1e6;
    d.nextPollMs = next;
    d.polls++;
    this.schedule(d, Math.max(0, next - tookMs), run);
  }

  /** Logs a refused request once when the refusal starts (or its code changes), not on every poll. */
  private noteRefusal(d: Device, i: number, req: ReadRequest, f: ModbusFailure): void {
    if (d.refused.get(i)?.detail === f.detail) return;
    d.refused.set(i, f);
    this.log.warn({ source: this.id, unit: d.opts.unitId, table: req.table, start: req.start, count: req.count, detail: f.detail }, "modbus device refused a read");
  }

  /** Reads one request, retrying transport failures; delivers readings either way; returns the failure. */
  private async readWithRetries(d: Device, req: ReadRequest, run: number): Promise<ModbusFailure | null> {
    let failure: ModbusFailure | null = null;
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) {
        // Unref'd like the poll timer: a forgotten source never keeps the process alive.
        await sleep(this.scheduler, backoffDelay(attempt - 1, { minMs: this.opts.retryDelayMs, maxMs: Infinity, jitter: 0 }), { unref: true });
        if (run !== this.run) return null;
      }
      try {
        const res = await this.onBus(() => this.read(d.opts.unitId, req));
        if (run !== this.run) return null;
        const tsNs = this.clock.nowNs();
        const values = decodeResponse(req, res.buffer);
        for (const v of values) this.deliver({ address: v.address, value: v.value, sourceTsNs: tsNs, quality: "good", qualityDetail: null });
        return null;
      } catch (err) {
        failure = classifyModbusError(err);
        this.errors++;
        if (failure.kind === "unreachable") this.dropConnection();
        if (!failure.retry) break;
      }
    }
    if (run !== this.run || !failure) return null;
    const tsNs = this.clock.nowNs();
    for (const item of req.items) this.deliver({ address: item.address, value: null, sourceTsNs: tsNs, quality: "bad", qualityDetail: failure.detail });
    return failure;
  }

  private onBus<T>(op: () => Promise<T>): Promise<T> {
    if (!this.opts.serialBus) return op();
    const p = this.bus.then(op, op);
    this.bus = p.catch(() => undefined);
    return p;
  }

  private async read(unit: number, req: ReadRequest): Promise<ReadResult> {
    const client = await this.connection();
    return new Promise<ReadResult>((resolve, reject) => {
      try {
        client[FC[req.table]](unit, req.start, req.count, (err, res) => {
          if (err) reject(err instanceof Error ? err : Object.assign(new Error(messageOf(err)), err));
          else if (!res || !Buffer.isBuffer(res.buffer)) reject(new RangeError("response without data"));
          else resolve(res);
        });
      } catch (err) {
        // modbus-serial throws synchronously on some malformed states; a request failure, not a crash.
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private connection(): Promise<ModbusClient> {
    if (this.client?.isOpen) return Promise.resolve(this.client);
    if (this.client) this.dropConnection();
    this.connecting ??= this.opts.connect().then(
      (c) => {
        this.connecting = null;
        this.client = c;
        return c;
      },
      (err: unknown) => {
        this.connecting = null;
        throw err;
      },
    );
    return this.connecting;
  }

  private dropConnection(): void {
    const c = this.client;
    this.client = null;
    c?.close(() => undefined);
  }

  private deliver(r: RawReading): void {
    const sink = this.sink;
    if (!sink) return;
    this.delivery.deliver(sink, r);
  }
}

/** modbus-serial rejects with plain objects ({ name, message, errno }); keep their message. */
function messageOf(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === "string" ? m : "modbus error";
}
