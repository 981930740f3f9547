/** The counters DeliveryCount keeps (the gateway's stats share them). */
export interface DeliveryCounters {
  /** Data frames the broker acknowledged. */
  publishedData: number;
  /** All frames acknowledged, control frames included. */
  publishedFrames: number;
}

/**
 * Counts what the broker acknowledged, data frames apart: the queue holds data and control frames
 * (session-opens, checkpoints, session-ends) alike and the uplink does not know which is which, so the
 * ids of data frames are remembered from their commit until they are acknowledged or leave the queue
 * otherwise (dead-lettered, dropped).
 */
export class DeliveryCount {
  private readonly dataIds = new Set<number>();

  constructor(private readonly counters: DeliveryCounters) {}

  /** Frames committed to the queue, with the ids the queue gave them (same order). */
  stored(items: ReadonlyArray<{ data: boolean }>, ids: readonly number[]): void {
    items.forEach((it, i) => { if (it.data) this.dataIds.add(ids[i]!); });
  }

  /** The broker acknowledged these queue items. */
  acked(ids: readonly number[]): void {
    this.counters.publishedFrames += ids.length;
    for (const id of ids) if (this.dataIds.delete(id)) this.counters.publishedData++;
  }

  /** This queue item left the queue undelivered (dead-lettered or dropped): it will never be acknowledged. */
  forget(id: number): void {
    this.dataIds.delete(id);
  }
}
