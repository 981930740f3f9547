import { LowSync, type SyncAdapter } from "lowdb";
import { writeFileDurably } from "./durable-write.js";
import { errorText, InputFileError } from "./errors.js";
import { INPUT_LIMITS, readCappedFile } from "./input-file.js";

/**
 * Small JSON state files (the CA's inventory, the model store's state) through lowdb, on an adapter
 * that writes durably (kernel/durable-write.ts). The file format is plain pretty-printed JSON with a
 * trailing newline, as these files were written before lowdb, so existing files keep loading.
 */

/** Options of a JSON state file. */
export interface JsonStateOptions {
  /** The file's permissions (default 0600: state may name keys and devices). */
  mode?: number;
  /** Larger files are refused before reading (default INPUT_LIMITS.state, 1 MiB). */
  maxBytes?: number;
}

/** A lowdb sync adapter for one JSON file: `null` while it does not exist, written atomically and durably. */
export class DurableJsonFile<T> implements SyncAdapter<T> {
  constructor(readonly file: string, private readonly opts: JsonStateOptions = {}) {}

  /**
   * The state; null when the file does not exist. A file over the size cap, unreadable or not JSON
   * throws InputFileError naming the file: the state is never silently reset, since it may be the only
   * record (the CA's inventory of issued keys, the model store's accepted versions).
   */
  read(): T | null {
    let bytes: Buffer;
    try {
      bytes = readCappedFile(this.file, { maxBytes: this.opts.maxBytes ?? INPUT_LIMITS.state, what: "the state file" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      if (err instanceof InputFileError) throw err;
      throw new InputFileError("INPUT_UNREADABLE", `cannot read the state file ${this.file}: ${errorText(err)}; check its owner and permissions (the gateway's user must read and write it)`, { cause: err });
    }
    try {
      return JSON.parse(bytes.toString("utf8")) as T;
    } catch (err) {
      throw new InputFileError(
        "STATE_FILE_INVALID",
        `the state file ${this.file} is not valid JSON (${errorText(err)}): it was damaged or edited by hand; ` +
          `restore it from a backup, or move it aside to start from an empty state (what it recorded is then lost)`,
      );
    }
  }

  write(data: T): void {
    writeFileDurably(this.file, `${JSON.stringify(data, null, 2)}\n`, this.opts);
  }
}

/**
 * The state in `file`, read now; `defaults` (not written) while the file does not exist. Change
 * `db.data` and call `db.write()`; `db.read()` re-reads (it keeps the current data if the file is gone).
 */
export function openJsonState<T>(file: string, defaults: T, opts: JsonStateOptions = {}): LowSync<T> {
  const db = new LowSync<T>(new DurableJsonFile<T>(file, opts), defaults);
  db.read();
  return db;
}
