import { errorText } from "../kernel/errors.js";
import type { Logger } from "../kernel/log.js";
import type { RawReading, ReadingSink } from "./source.js";

/**
 * Hands one source's readings to the pipeline's sink. A throwing sink must not stop the plant: the
 * reading is dropped and counted, and the first failure and then every 1000th is logged, so a broken
 * sink cannot flood the log. The error text comes from our own code, never from a value.
 */
export class SinkDelivery {
  /** Readings the sink accepted. */
  delivered = 0;
  /** Readings dropped because the sink threw. */
  failed = 0;

  constructor(
    private readonly log: Logger,
    private readonly sourceId: string,
  ) {}

  /** Delivers one reading; false when the sink threw (the reading is then dropped). */
  deliver(sink: ReadingSink, reading: RawReading): boolean {
    try {
      sink(reading);
      this.delivered++;
      return true;
    } catch (err) {
      if (this.failed++ % 1000 === 0) {
        this.log.warn({ source: this.sourceId, address: reading.address, err: errorText(err) }, "sink threw; reading dropped (logged once per 1000)");
      }
      return false;
    }
  }
}
