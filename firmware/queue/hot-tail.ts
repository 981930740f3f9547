import type { QueueItem } from "./queue.js";

/**
 * The most recently committed items of each priority class, kept in memory so the uplink's peeks
 * do not read back from SQLite what was written a moment ago (docs/queue.md "Reads").
 *
 * Invariant, per class: every stored row of the class with an id above the class's `floor` is in
 * `ids`/`items` (in id order, not yet deleted), and nothing else is. A peek that starts at or above
 * the floor is therefore answered here exactly; one that starts below it (a reconnect resending an
 * older backlog, items written before a restart) goes to SQLite. The caller keeps the invariant:
 * add() after each commit, remove() for every deleted id, reset() when rows change class.
 *
 * Bounded by payload bytes: past `maxBytes` the oldest cached items are forgotten (the floor rises;
 * they stay on disk), so a backlog is read from disk while the newest frames stay cheap.
 */
export class HotTail {
  private readonly classes = new Map<number, ClassTail>();
  /** Floor of a class not seen yet: rows above it would have been added. */
  private baseFloor: number;
  private bytes = 0;

  constructor(private readonly maxBytes: number, lastId: number) {
    this.baseFloor = lastId;
  }

  /** Items just committed (ids increasing). */
  add(items: readonly QueueItem[]): void {
    if (this.maxBytes <= 0) return;
    for (const it of items) {
      const c = this.tail(it.priority);
      c.ids.push(it.id);
      c.items.push(it);
      c.bytes += it.payload.length;
      this.bytes += it.payload.length;
    }
    if (this.bytes > this.maxBytes) this.shrink();
  }

  /** Rows deleted (acked, dropped, dead-lettered). Returns the cached item, if it was cached. */
  remove(priority: number, id: number): QueueItem | undefined {
    const c = this.classes.get(priority);
    if (!c || id <= c.floor) return undefined;
    const i = lowerBound(c.ids, id, c.head);
    if (i >= c.ids.length || c.ids[i] !== id) return undefined;
    const it = c.items[i];
    if (!it) return undefined;
    c.items[i] = null;
    c.bytes -= it.payload.length;
    this.bytes -= it.payload.length;
    while (c.head < c.ids.length && c.items[c.head] === null) c.head++;
    c.compact();
    return it;
  }

  /** Looks an id up in every class (for callers that do not know its class). */
  find(id: number): QueueItem | undefined {
    for (const c of this.classes.values()) {
      if (id <= c.floor) continue;
      const i = lowerBound(c.ids, id, c.head);
      if (i < c.ids.length && c.ids[i] === id) return c.items[i] ?? undefined;
    }
    return undefined;
  }

  /**
   * Up to `limit` cached items of class `priority` with id > `after`, appended to `out`. Returns false
   * (and appends nothing) when `after` is below the class's floor: the answer is not all here.
   */
  peek(priority: number, after: number, limit: number, out: QueueItem[]): boolean {
    if (this.maxBytes <= 0) return false;
    const c = this.classes.get(priority);
    if (!c) return after >= this.baseFloor;
    if (after < c.floor) return false;
    let added = 0;
    for (let i = lowerBound(c.ids, after + 1, c.head); i < c.ids.length && added < limit; i++) {
      const it = c.items[i];
      if (it) {
        out.push(it);
        added++;
      }
    }
    return true;
  }

  /** Forgets everything (e.g. rows moved between classes): every class's floor becomes `lastId`. */
  reset(lastId: number): void {
    this.classes.clear();
    this.bytes = 0;
    this.baseFloor = lastId;
  }

  /** Payload bytes held (for tests and the memory figures). */
  get heldBytes(): number {
    return this.bytes;
  }

  private tail(priority: number): ClassTail {
    let c = this.classes.get(priority);
    if (!c) this.classes.set(priority, (c = new ClassTail(this.baseFloor)));
    return c;
  }

  /** Forgets the oldest cached items, class by class from the least urgent, until under the bound. */
  private shrink(): void {
    const order = [...this.classes.keys()].sort((a, b) => b - a);
    for (const p of order) {
      const c = this.classes.get(p)!;
      while (this.bytes > this.maxBytes * 0.75 && c.head < c.ids.length) {
        const it = c.items[c.head];
        c.floor = c.ids[c.head]!;
        if (it) {
          c.bytes -= it.payload.length;
          this.bytes -= it.payload.length;
        }
        c.items[c.head] = null;
        c.head++;
      }
      c.compact();
      if (this.bytes <= this.maxBytes * 0.75) return;
    }
  }
}

class ClassTail {
  ids: number[] = [];
  items: (QueueItem | null)[] = [];
  head = 0;
  bytes = 0;
  constructor(public floor: number) {}

  /** Drops the consumed prefix once it is most of the arrays. */
  compact(): void {
    if (this.head === this.ids.length) {
      this.ids = [];
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/** First index i ≥ from with a[i] ≥ x (a is increasing). */
function lowerBound(a: readonly number[], x: number, from: number): number {
  let lo = from;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
