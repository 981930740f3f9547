import type { Queue, NewQueueItem, QueueItem, DeadLetter, QueueDepth, PeekCursor, DropTotals, MarkUpdate } from "../queue/queue.js";

/**
 * A Queue that tells the runtime which items were acknowledged or dead-lettered, so the gateway can
 * count delivered *data* messages (not control frames) without the uplink knowing what it carries.
 */
export class ObservedQueue implements Queue {
  constructor(
    private readonly inner: Queue,
    private readonly onAck: (ids: readonly number[]) => void,
    private readonly onDead: (id: number) => void,
  ) {}

  enqueue(items: readonly NewQueueItem[], marks?: MarkUpdate): number[] {
    return this.inner.enqueue(items, marks);
  }
  marks(): Map<string, bigint> {
    return this.inner.marks();
  }
  peek(limit: number, after?: number | PeekCursor): QueueItem[] {
    return this.inner.peek(limit, after);
  }
  ack(ids: readonly number[]): void {
    this.inner.ack(ids);
    this.onAck(ids);
  }
  deadLetter(id: number, reason: string): boolean {
    const moved = this.inner.deadLetter(id, reason);
    if (moved) this.onDead(id);
    return moved;
  }
  deadLetters(limit?: number): DeadLetter[] {
    return this.inner.deadLetters(limit);
  }
  dropped(): Record<string, DropTotals> {
    return this.inner.dropped();
  }
  depth(): QueueDepth {
    return this.inner.depth();
  }
  close(): void {
    this.inner.close();
  }
}
