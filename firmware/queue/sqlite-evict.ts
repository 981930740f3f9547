import type Database from "better-sqlite3";
import type { DropReason, DropReport } from "./queue.js";

/** The statements eviction needs, prepared once per queue. */
export interface EvictStatements {
  leastUrgent: Database.Statement<[number], { p: number | null }>;
  oldestOf: Database.Statement<[number, number], { id: number; stream: string; n: number }>;
  del: Database.Statement<[number], { n: number; priority: number }>;
  addDropped: Database.Statement<[string, number, number]>;
}

export function prepareEvict(db: Database.Database): EvictStatements {
  return {
    leastUrgent: db.prepare<[number], { p: number | null }>("SELECT max(priority) AS p FROM queue WHERE control = 0 AND priority >= ?"),
    oldestOf: db.prepare<[number, number], { id: number; stream: string; n: number }>("SELECT id, stream, length(payload) AS n FROM queue WHERE control = 0 AND priority = ? ORDER BY id LIMIT ?"),
    del: db.prepare<[number], { n: number; priority: number }>("DELETE FROM queue WHERE id = ? RETURNING length(payload) AS n, priority"),
    addDropped: db.prepare<[string, number, number]>("INSERT INTO dropped (stream, count, bytes) VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE SET count = count + excluded.count, bytes = bytes + excluded.bytes"),
  };
}

/**
 * Deletes at least `need` payload bytes of data frames (never control frames), least urgent class
 * first, oldest first, never from a class more urgent than `minPriority`; adds them to the persisted
 * per-stream totals. Runs inside the caller's transaction. `onRemoved(p, id)` is told of each deleted item.
 */
export function evictInTx(s: EvictStatements, need: number, reason: DropReason, minPriority: number, onRemoved: (priority: number, id: number) => void): DropReport[] {
  const by = new Map<string, DropReport>();
  let freed = 0;
  while (freed < need) {
    const p = s.leastUrgent.get(minPriority)?.p;
    if (p === null || p === undefined) break; // only control frames (or more urgent data) left
    for (const v of s.oldestOf.all(p, 256)) {
      if (freed >= need) break;
      s.del.get(v.id);
      freed += v.n;
      let r = by.get(v.stream);
      if (!r) by.set(v.stream, (r = { stream: v.stream, reason, count: 0, bytes: 0, ids: [] }));
      r.count++;
      r.bytes += v.n;
      r.ids.push(v.id);
      onRemoved(p, v.id);
    }
  }
  for (const r of by.values()) s.addDropped.run(r.stream, r.count, r.bytes);
  return [...by.values()];
}
