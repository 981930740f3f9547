import { readFileSync } from "node:fs";
import { LowSync, type SyncAdapter } from "lowdb";
import { writeFileDurably } from "./durable-write.js";

/**
 * Small JSON state files (the CA's inventory, the model store's state) through lowdb, on an adapter
 * that writes durably (kernel/durable-write.ts). The file format is plain pretty-printed JSON with a
 * trailing newline, as these files were written before lowdb, so existing files keep loading.
 */

/** A lowdb sync adapter for one JSON file: `null` while it does not exist, written atomically and durably. */
export class DurableJsonFile<T> implements SyncAdapter<T> {
  /** `mode`: the file's permissions (default 0600: state may name keys and devices). */
  constructor(readonly file: string, private readonly opts: { mode?: number } = {}) {}

  read(): T | null {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    return JSON.parse(text) as T;
  }

  write(data: T): void {
    writeFileDurably(this.file, `${JSON.stringify(data, null, 2)}\n`, this.opts);
  }
}

/**
 * The state in `file`, read now; `defaults` (not written) while the file does not exist. Change
 * `db.data` and call `db.write()`; `db.read()` re-reads (it keeps the current data if the file is gone).
 */
export function openJsonState<T>(file: string, defaults: T, opts: { mode?: number } = {}): LowSync<T> {
  const db = new LowSync<T>(new DurableJsonFile<T>(file, opts), defaults);
  db.read();
  return db;
}
