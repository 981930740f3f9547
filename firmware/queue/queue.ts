/**
 * The store-and-forward queue between sealing and the uplink. Items are sealed envelope frames:
 * opaque bytes to the queue, so nothing here ever looks inside a payload or logs it.
 *
 * Delivery order (docs/queue.md): more urgent priority classes first; inside a class, id order. A
 * stream has one priority, so every stream is delivered in the order it was sealed, which is what the
 * receiver's strict per-session sequence check needs, while an alarm stream may overtake bulk data.
 */

/** One item to enqueue. */
export interface NewQueueItem {
  /** Stream name (the last topic level); used for per-stream drop accounting. */
  stream: string;
  /** MQTT topic the uplink publishes this item to. */
  topic: string;
  /**
   * Priority class, as `streams[].priority` in the config: **smaller is more urgent** (0 = alarms).
   * Integer. Sent first, and dropped last when the queue must make room.
   */
  priority: number;
  /**
   * Session-open and checkpoint frames. Never dropped to make room: dropping a session-open would make
   * every data frame of its session unverifiable, and checkpoints are what proves the rest intact.
   */
  control?: boolean;
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
 * Why data was dropped: the configured byte bound, the disk itself is full, or (before sealing, in the
 * gateway) more records waited in memory than its bound while the queue could not take them.
 */
export type DropReason = "bound" | "disk-full" | "memory" | "held-full";

/** Data frames of one stream dropped in one go (one enqueue). */
export interface DropReport {
  stream: string;
  reason: DropReason;
  count: number;
  bytes: number;
  /** Queue ids of the dropped items (the receiver sees them as a sequence gap). */
  ids: number[];
}

/** Everything dropped from one stream since the queue file was created (persisted with the drops). */
export interface DropTotals {
  count: number;
  bytes: number;
}

/**
 * Where a reader left off in each priority class: class → highest id already taken. Because classes
 * are read most urgent first, a single id cannot say where the reader is in every class.
 */
export type PeekCursor = ReadonlyMap<number, number>;

/**
 * Changes to the queue's named marks, committed in the same transaction as an enqueue's items: after
 * a crash a mark says exactly what its items' commit said (docs/queue.md "Marks"). Names are the
 * caller's (1..200 chars); values are integers in 0..2^63-1. A name in both lists is deleted.
 */
export interface MarkUpdate {
  set?: ReadonlyMap<string, bigint>;
  delete?: readonly string[];
}

/**
 * Durable, priority-ordered store of sealed frames. Synchronous on purpose: the sealing path must not
 * pay an `await` per message, and SQLite in WAL mode commits a batch in well under a millisecond.
 */
export interface Queue {
  /**
   * Appends a batch in one transaction (group commit) and returns the new ids in input order.
   * Either all items are stored or none (throws QueueError; code QUEUE_FULL when the disk is full and
   * nothing less urgent could be dropped to make room). If the byte bound is exceeded, data frames are
   * dropped in the same transaction, least urgent class first, oldest first (possibly items of this
   * very batch), and reported to the queue's drop listener. `marks` are applied in the same
   * transaction (also when `items` is empty).
   */
  enqueue(items: readonly NewQueueItem[], marks?: MarkUpdate): number[];
  /** The named marks as committed (see {@link MarkUpdate}). */
  marks(): Map<string, bigint>;
  /**
   * Returns up to `limit` unacknowledged items, most urgent class first and in id order inside a
   * class, skipping what `after` says was already taken (a number: every id up to it; a cursor: per
   * class). Peeking removes nothing: after a restart the same items come back.
   */
  peek(limit: number, after?: number | PeekCursor): QueueItem[];
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
  /** Data frames dropped per stream since the store was created (survives restarts). */
  dropped(): Record<string, DropTotals>;
  /** Closes the store; any later call throws QueueError. Idempotent. */
  close(): void;
}
