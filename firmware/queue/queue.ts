/**
 * The store-and-forward queue between sealing and the uplink. Items are sealed envelope frames:
 * opaque bytes to the queue, so nothing here ever looks inside a payload or logs it.
 */

/** One item to enqueue. */
export interface NewQueueItem {
  /** Stream name (the last topic level); kept for per-stream accounting and later priority rules. */
  stream: string;
  /** MQTT topic the uplink publishes this item to. */
  topic: string;
  /** Priority class (higher = more urgent). Stored now; delivery is in id order until priority classes land. */
  priority: number;
  /** The sealed frame, exactly as it goes on the wire. */
  payload: Buffer;
}

/** An item as stored, with the id that orders it and names it in ack/deadLetter. */
export interface QueueItem extends NewQueueItem {
  /** Strictly increasing, never reused (not even after the queue drains). */
  id: number;
  /** Gateway wall-clock time of enqueue, ms since the epoch. */
  enqueuedMs: number;
}

/** An item the broker refused for good, set aside so the queue behind it keeps moving. */
export interface DeadLetter extends QueueItem {
  /** Why, in words (e.g. "PUBACK 135 Not authorized"). */
  reason: string;
  /** When it was set aside, ms since the epoch. */
  deadMs: number;
}

/** Current size of the queue (dead letters not included). */
export interface QueueDepth {
  /** Number of items waiting for a PUBACK. */
  count: number;
  /** Sum of their payload sizes in bytes. */
  bytes: number;
}

/**
 * Durable FIFO of sealed frames. Synchronous on purpose: the sealing path must not pay an `await`
 * per message, and SQLite in WAL mode commits a batch in well under a millisecond.
 */
export interface Queue {
  /**
   * Appends a batch in one transaction (group commit) and returns the new ids in input order.
   * Either all items are stored or none (throws QueueError).
   */
  enqueue(items: readonly NewQueueItem[]): number[];
  /**
   * Returns up to `limit` unacknowledged items with id > `afterId` (default: from the start), in id
   * order. Peeking does not remove anything: after a restart the same items come back.
   */
  peek(limit: number, afterId?: number): QueueItem[];
  /** Deletes delivered items in one transaction. Unknown or already-acked ids are ignored. */
  ack(ids: readonly number[]): void;
  /**
   * Moves item `id` to the dead-letter table with `reason`, so a message the broker will never
   * accept does not block the queue. Returns false if no such item was waiting.
   */
  deadLetter(id: number, reason: string): boolean;
  /** Dead letters, oldest first, for inspection and the health check. */
  deadLetters(limit?: number): DeadLetter[];
  /** Count and payload bytes of waiting items (cheap: kept up to date in memory). */
  depth(): QueueDepth;
  /** Closes the store; any later call throws QueueError. Idempotent. */
  close(): void;
}
