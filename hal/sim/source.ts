import type { Clock } from "../../kernel/clock.js";
import { systemScheduler, type Scheduler, type Timer } from "../../kernel/scheduler.js";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import type { ReadingSink, Source, SourceHealth } from "../source.js";
import { readingsAtTick, simAddresses, tickPeriodMs } from "./generate.js";
import type { SimAssetSpec, SimFaultSpec, SimModel } from "./model.js";
import { SinkDelivery } from "../delivery.js";

/** The simulator's part of the config (structurally the `kind: sim` source of docs/config.md). */
export interface SimSourceOptions {
  id: string;
  seed: number;
  rateHz: number;
  assets: readonly SimAssetSpec[];
  faults: readonly SimFaultSpec[];
}

/** After a stall (suspended process, clock jump) ticks older than this are skipped, not replayed in a burst. */
const MAX_CATCH_UP_MS = 1000;

/**
 * A simulated plant behind the `Source` interface. The values come from the pure model (model.ts); this
 * class only decides *when* to emit: each wake-up emits every tick whose time (origin + k / rateHz) has
 * passed on the injected clock, so the delivered rate follows the clock, not timer jitter.
 */
export class SimSource implements Source {
  readonly id: string;
  readonly adapter = "sim";
  private readonly log: Logger;
  private readonly addrs: readonly string[];
  private readonly periodMs: number;
  private model: SimModel | null = null;
  private nextTick = 0;
  private timer: Timer | null = null;
  private state: SourceHealth["state"] = "stopped";
  private readonly delivery: SinkDelivery;
  private errors = 0;
  private skipped = 0;

  /** Stores its collaborators only; nothing runs until start(). */
  constructor(
    private readonly opts: SimSourceOptions,
    private readonly clock: Clock,
    logger: Logger = silentLogger(),
    private readonly scheduler: Scheduler = systemScheduler,
  ) {
    this.id = opts.id;
    this.log = child(logger, "hal.sim");
    this.delivery = new SinkDelivery(this.log, this.id);
    this.addrs = simAddresses(opts.assets);
    this.periodMs = tickPeriodMs(opts.rateHz);
  }

  /** `sim://<sourceId>/<asset>/<signal>` */
  uriFor(address: string): string {
    return `sim://${encodeURIComponent(this.id)}/${address.split("/").map(encodeURIComponent).join("/")}`;
  }

  addresses(): readonly string[] {
    return this.addrs;
  }

  start(sink: ReadingSink): Promise<void> {
    if (this.timer) return Promise.resolve();
    const now = this.clock.nowMs();
    // Fault times count from the first start; a restart continues the same timeline from "now".
    this.model ??= { seed: this.opts.seed, assets: this.opts.assets, faults: this.opts.faults, originMs: now };
    this.nextTick = Math.max(this.nextTick, Math.ceil((now - this.model.originMs) / this.periodMs));
    this.state = "running";
    // Unref'd: a forgotten source never keeps the process alive.
    this.timer = this.scheduler.setInterval(() => this.wake(sink), Math.max(1, this.periodMs)).unref();
    this.log.info({ source: this.id, rateHz: this.opts.rateHz, addresses: this.addrs.length }, "simulated source started");
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    this.state = "stopped";
    this.log.info({ source: this.id, readings: this.delivery.delivered, skipped: this.skipped }, "simulated source stopped");
    return Promise.resolve();
  }

  health(): SourceHealth {
    const detail = this.skipped > 0 ? `skipped ${this.skipped} tick(s) after stalls longer than ${MAX_CATCH_UP_MS} ms` : null;
    return { state: this.state, detail, readings: this.delivery.delivered, errors: this.errors + this.delivery.failed };
  }

  private wake(sink: ReadingSink): void {
    const model = this.model;
    if (!model || !this.timer) return;
    const now = this.clock.nowMs();
    const due = Math.floor((now - model.originMs) / this.periodMs);
    const oldest = Math.ceil((now - MAX_CATCH_UP_MS - model.originMs) / this.periodMs);
    if (oldest > this.nextTick) {
      this.skipped += oldest - this.nextTick;
      this.nextTick = oldest;
    }
    for (; this.nextTick <= due && this.timer; this.nextTick++) {
      for (const r of readingsAtTick(model, this.opts.rateHz, this.nextTick)) {
        this.delivery.deliver(sink, { address: r.address, value: r.value, sourceTsNs: r.sourceTsNs, quality: r.quality, qualityDetail: r.qualityDetail });
      }
    }
  }
}
