import type { Clock } from "../../kernel/clock.js";
import { systemScheduler, type Scheduler, type Timer } from "../../kernel/scheduler.js";
import { errorText } from "../../kernel/errors.js";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import type { GpioLineConfig } from "./schema.js";
import type { RawReading, ReadingSink, Source, SourceHealth, TamperEvent, TamperReporter } from "../source.js";
import type { GpioBackend, GpioInput } from "./backend.js";
import { SinkDelivery } from "../delivery.js";

export type { TamperEvent } from "../source.js";

export interface GpioSourceOptions {
  id: string;
  chip: string;
  lines: readonly GpioLineConfig[];
  /** Opens the backend at start (chardev, onoff or the fake, as configured). */
  backend: () => Promise<GpioBackend>;
  /** Debounce timers (default: the system's). */
  scheduler?: Scheduler;
}

interface Line {
  cfg: GpioLineConfig;
  input: GpioInput | null;
  unwatch: (() => void) | null;
  timer: Timer | null;
  /** Last delivered logical state. */
  last: boolean | null;
}

/**
 * Digital inputs behind the `Source` interface. Each line delivers its state at start and then one
 * reading per debounced change (a level must hold for debounceMs before it counts, so contact bounce
 * gives one reading). Lines flagged `tamper` also fire onTamper listeners, so the gateway can audit
 * them. The value is the logical state (boolean, activeLow applied).
 */
export class GpioSource implements Source, TamperReporter {
  readonly id: string;
  readonly adapter = "gpio";
  private readonly log: Logger;
  private readonly lines: Line[];
  private readonly tamperListeners = new Set<(e: TamperEvent) => void>();
  private backend: GpioBackend | null = null;
  private sink: ReadingSink | null = null;
  private state: SourceHealth["state"] = "stopped";
  private detail: string | null = null;
  private readonly delivery: SinkDelivery;
  private readonly scheduler: Scheduler;
  private errors = 0;

  constructor(private readonly opts: GpioSourceOptions, private readonly clock: Clock, logger: Logger = silentLogger()) {
    this.id = opts.id;
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.log = child(logger, "hal.gpio");
    this.delivery = new SinkDelivery(this.log, this.id);
    this.lines = opts.lines.map((cfg) => ({ cfg, input: null, unwatch: null, timer: null, last: null }));
  }

  /** `gpio://<chip>/<line>` */
  uriFor(address: string): string {
    return `gpio://${this.opts.chip}/${address}`;
  }

  addresses(): readonly string[] {
    return this.lines.map((l) => String(l.cfg.line));
  }

  /** Addresses of the lines flagged `tamper: true`. */
  tamperAddresses(): readonly string[] {
    return this.lines.filter((l) => l.cfg.tamper).map((l) => String(l.cfg.line));
  }

  /** Listens for tamper-line changes (including the state at start); returns an unsubscribe function. */
  onTamper(fn: (e: TamperEvent) => void): () => void {
    this.tamperListeners.add(fn);
    return () => this.tamperListeners.delete(fn);
  }

  health(): SourceHealth {
    return { state: this.state, detail: this.detail, readings: this.delivery.delivered, errors: this.errors + this.delivery.failed };
  }

  async start(sink: ReadingSink): Promise<void> {
    if (this.sink) return;
    this.state = "starting";
    try {
      this.backend ??= await this.opts.backend();
    } catch (err) {
      this.state = "failed";
      this.detail = errorText(err);
      this.log.error({ source: this.id, err: this.detail }, "gpio backend unavailable");
      return;
    }
    this.sink = sink;
    try {
      for (const l of this.lines) {
        const input = this.backend.open(l.cfg.line, "both");
        l.input = input;
        l.last = null;
        this.emit(l, this.logical(l, input.read()));
        l.unwatch = input.watch(() => this.bounce(l));
      }
    } catch (err) {
      // A line that cannot be had (busy, not on the chip): the source fails visibly, the gateway runs on.
      const detail = errorText(err);
      await this.stop();
      this.state = "failed";
      this.detail = detail;
      this.log.error({ source: this.id, err: detail }, "gpio line unavailable");
      return;
    }
    this.state = "running";
    this.log.info({ source: this.id, backend: this.backend.name, lines: this.lines.length }, "gpio source started");
  }

  stop(): Promise<void> {
    this.sink = null;
    for (const l of this.lines) {
      l.unwatch?.();
      l.timer?.cancel();
      l.input?.close();
      Object.assign(l, { input: null, unwatch: null, timer: null });
    }
    // The chip is released with its lines and opened again by the next start().
    this.backend?.close?.();
    this.backend = null;
    this.state = "stopped";
    return Promise.resolve();
  }

  private logical(l: Line, level: 0 | 1): boolean {
    return (level === 1) !== l.cfg.activeLow;
  }

  /** Any edge restarts the debounce window; when it expires the settled level is read and judged. */
  private bounce(l: Line): void {
    l.timer?.cancel();
    const settle = () => {
      l.timer = null;
      if (!l.input || !this.sink) return;
      const v = this.logical(l, l.input.read());
      if (v === l.last) return;
      const rising = v && !(l.last ?? false);
      if (l.cfg.edge === "both" || (l.cfg.edge === "rising") === rising) this.emit(l, v);
      else l.last = v;
    };
    if (l.cfg.debounceMs === 0) return settle();
    l.timer = this.scheduler.setTimeout(settle, l.cfg.debounceMs).unref();
  }

  private emit(l: Line, v: boolean): void {
    l.last = v;
    const tsNs = this.clock.nowNs();
    const r: RawReading = { address: String(l.cfg.line), value: v, sourceTsNs: tsNs, quality: "good", qualityDetail: null };
    if (l.cfg.tamper) {
      const ev: TamperEvent = { sourceId: this.id, line: l.cfg.line, uri: this.uriFor(r.address), active: v, tsNs };
      for (const fn of this.tamperListeners) {
        try {
          fn(ev);
        } catch (err) {
          this.log.error({ source: this.id, line: l.cfg.line, err: errorText(err) }, "tamper listener threw");
        }
      }
    }
    const sink = this.sink;
    if (!sink) return;
    this.delivery.deliver(sink, r);
  }
}
