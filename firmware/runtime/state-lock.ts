import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { RuntimeError, errorText } from "../../kernel/errors.js";
import { processUser } from "../queue/queue-access.js";
import { processAlive as alive } from "../../kernel/pid.js";

/** The lock's file in the state directory (docs/queue.md "One gateway per state directory"). */
export const LOCK_FILE = "gateway.lock";

const isBusy = (err: unknown): boolean => {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_") || code === "SQLITE_LOCKED");
};

/**
 * One gateway per state directory: two on one directory interleave the audit log (it then fails to
 * verify and the next start refuses it) and end each other's envelope sessions.
 *
 * The lock is SQLite's own file lock (POSIX fcntl) on a small database, `gateway.lock`: the holder
 * keeps a write transaction open (a RESERVED lock) for as long as it runs. The kernel drops the lock
 * with the process however it ends (SIGKILL, power cut), so there is no stale lock to detect and no
 * pid to trust: a pid file would need stale-pid checks that pid reuse defeats, and node has no flock.
 * A RESERVED lock still lets others read, so the holder's pid, committed just before, names it in the
 * refusal. SQLite also tracks its locks across connections of one process, so a second gateway in the
 * same process is refused too.
 */
export class StateDirLock {
  private constructor(readonly dir: string, private db: Database.Database | undefined) {}

  /** Takes the lock on `dir` (created if missing) or throws STATE_DIR_BUSY naming the holder's pid. */
  static take(dir: string): StateDirLock {
    const file = join(dir, LOCK_FILE);
    let db: Database.Database | undefined;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // timeout 0: a held lock is an answer, not something to wait for.
      db = new Database(file, { timeout: 0 });
      const d = db;
      d.exec("CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL)");
      d.transaction(() => d.prepare<[number]>("INSERT OR REPLACE INTO holder (id, pid) VALUES (1, ?)").run(process.pid)).immediate();
      // Between that commit and this BEGIN another gateway may take the lock; then this one is refused
      // here, as it should be: exactly one of them holds it.
      d.exec("BEGIN IMMEDIATE");
      return new StateDirLock(dir, d);
    } catch (err) {
      if (db && isBusy(err)) {
        const holder = holderPid(db);
        db.close();
        throw new RuntimeError("STATE_DIR_BUSY",
          `state directory ${dir} is in use by another gateway (${holder === null ? "pid unknown" : `pid ${holder}`}): two gateways on one state directory corrupt its audit log and queue; stop the other one first, or give this one its own gateway.stateDir`);
      }
      db?.close();
      const raw = (err as { code?: unknown }).code;
      const code = typeof raw === "string" ? raw : "";
      const user = processUser();
      const fix = code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")
        ? `the lock file holds nothing but the holder's pid: if no gateway runs on ${dir}, remove ${file} and start again`
        : `the gateway's user needs read and write access to the directory and its files (e.g. \`chown -R ${user.name} ${dir}\`)`;
      throw new RuntimeError("STATE_DIR_LOCK", `cannot lock state directory ${dir} (${file}) as ${user.label}: ${errorText(err)}; ${fix}`, { cause: err });
    }
  }

  /** Whether this lock is still held (false after release). */
  get held(): boolean {
    return this.db !== undefined;
  }

  /** Gives the lock up (closing the connection ends its transaction, and with it the file lock). Idempotent. */
  release(): void {
    const db = this.db;
    this.db = undefined;
    db?.close();
  }
}

/** The pid the holder committed, if it reads and names a live process other than this one. */
function holderPid(db: Database.Database): number | null {
  try {
    const pid = db.prepare<[], { pid: number }>("SELECT pid FROM holder WHERE id = 1").get()?.pid;
    if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return null;
    // A pid from an earlier holder that died is not the holder. (This process's own pid is, when a
    // second gateway is wired in the process that runs the first.)
    return alive(pid) ? pid : null;
  } catch {
    return null; // the holder is committing right now
  }
}
