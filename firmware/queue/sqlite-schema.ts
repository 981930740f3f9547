import type Database from "better-sqlite3";
import { QueueError } from "../../kernel/errors.js";

/** Bumped when the schema changes; a newer file than this code refuses to open rather than guess. */
export const SCHEMA_VERSION = 3;

// AUTOINCREMENT so ids are never reused after the table drains: the uplink names in-flight items by
// id, and a late PUBACK for an old id must never ack a new item.
const V1 = `
CREATE TABLE IF NOT EXISTS queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  stream TEXT NOT NULL,
  topic TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  enqueued_ms INTEGER NOT NULL,
  payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
  id INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  topic TEXT NOT NULL,
  priority INTEGER NOT NULL,
  enqueued_ms INTEGER NOT NULL,
  payload BLOB NOT NULL,
  reason TEXT NOT NULL,
  dead_ms INTEGER NOT NULL
);
`;

// v2: priority classes (read in (priority, id) order), control frames that are never dropped, and
// per-stream drop totals written in the same transaction as the drop itself.
const V2 = `
ALTER TABLE queue ADD COLUMN control INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS queue_by_class ON queue (priority, id);
CREATE INDEX IF NOT EXISTS queue_droppable ON queue (control, priority, id);
CREATE TABLE IF NOT EXISTS dropped (
  stream TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
`;

// v3: named marks (name → integer) written in the same transaction as the frames they describe. The
// gateway keeps, per open envelope session, the highest data seq committed here (docs/queue.md "Marks").
const V3 = `
CREATE TABLE IF NOT EXISTS marks (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`;

/** Creates or upgrades the tables of `db` (one transaction) to SCHEMA_VERSION. */
export function migrate(db: Database.Database, file: string): void {
  const version = Number(db.pragma("user_version", { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new QueueError("QUEUE_SCHEMA", `queue file ${file} has schema version ${version}, newer than this firmware (${SCHEMA_VERSION}): upgrade the firmware or move the file aside`);
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    // Step by step, so a v2 file only gets what v3 adds (v2's ALTER TABLE must not run twice).
    if (version < 2) {
      db.exec(V1);
      db.exec(V2);
    }
    db.exec(V3);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/** One stored row. */
export interface Row {
  id: number;
  stream: string;
  topic: string;
  priority: number;
  control: number;
  enqueued_ms: number;
  payload: Buffer;
}

export const ROW_COLUMNS = "id, stream, topic, priority, control, enqueued_ms, payload";
