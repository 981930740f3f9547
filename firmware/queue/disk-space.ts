import type Database from "better-sqlite3";
import { rmSync, statfsSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** How a queue file stays workable on a filling disk (docs/queue.md, "Full disk"). */
export interface DiskSpaceOptions {
  /**
   * Free space to leave on the filesystem (default 8 MiB). Below it the queue stops growing its file:
   * each commit first drops by policy as many payload bytes as it adds (reason "disk-full"), so the
   * new rows reuse the freed pages. SQLite itself never sees a full disk as long as only the queue
   * fills it.
   */
  minFreeBytes?: number;
  /**
   * Bytes kept in `<file>.reserve` (default 2 MiB; 0: none): ballast for when something else fills
   * the disk. On SQLITE_FULL it is released so the WAL can be checkpointed (which may need to grow the
   * main file) and deletes (acks, drops) can commit. Re-made when the margin is back.
   */
  reserveBytes?: number;
}

/**
 * Disk bytes a payload byte may cost until the next checkpoint: the row and its two index entries
 * (~1.35× measured) and the same pages once more in the WAL. Conservative on purpose.
 */
const GROWTH = 2.5;
/** Bytes per payload byte of a row once checkpointed (row + index entries, with slack). */
const IN_FILE = 1.5;

/**
 * Watches the filesystem under a queue file: tells each commit how many payload bytes it may add
 * before it must drop by policy, and keeps (and releases) the reserve file. statfs is cheap, but it is
 * only called every 50 ms, or sooner when commits have used an eighth of the margin since.
 */
export class DiskSpace {
  readonly minFree: number;
  readonly reserveBytes: number;
  readonly reserveFile: string;
  private reserveHeld = false;
  /** When writing the reserve last failed (retried at most once a second). */
  private reserveFailedAt = Number.NEGATIVE_INFINITY;
  private lastStatfs = Number.NEGATIVE_INFINITY;
  private free = Number.POSITIVE_INFINITY;
  private sinceStatfs = 0;
  /** Set after SQLITE_FULL: the disk is full whatever statfs said a moment ago. */
  private fullSeen = false;

  constructor(private readonly file: string, opts: DiskSpaceOptions) {
    this.minFree = opts.minFreeBytes ?? 8 * 1024 * 1024;
    this.reserveBytes = opts.reserveBytes ?? 2 * 1024 * 1024;
    this.reserveFile = `${file}.reserve`;
  }

  /** True while the filesystem is below the margin (the queue drops instead of growing). */
  get tight(): boolean {
    return this.fullSeen || this.estimate() < this.minFree;
  }

  private estimate(): number {
    return this.free - this.sinceStatfs * GROWTH;
  }

  private refresh(incoming: number): void {
    const now = performance.now();
    if (!this.fullSeen && now - this.lastStatfs < 50 && (this.sinceStatfs + incoming) * GROWTH < this.minFree / 8) return;
    try {
      const st = statfsSync(dirname(this.file));
      this.free = st.bavail * st.bsize;
    } catch {
      return; // keep the last figure; a later call tries again
    }
    this.lastStatfs = now;
    this.sinceStatfs = 0;
    if (this.free >= this.minFree) this.fullSeen = false;
  }

  /**
   * Payload bytes a commit of `incoming` bytes may add to the file without dropping: unlimited while
   * the margin holds; below it, what fits into the file's own free pages plus what is left above the
   * margin (so the file stops growing and the disk keeps `minFreeBytes` free).
   */
  budget(incoming: number, db: Database.Database): number {
    this.refresh(incoming);
    const free = this.fullSeen ? 0 : this.estimate();
    if (free - incoming * GROWTH >= this.minFree) return Number.POSITIVE_INFINITY;
    const pages = Number(db.pragma("freelist_count", { simple: true })) * Number(db.pragma("page_size", { simple: true }));
    return Math.floor(Math.max(0, free - this.minFree) / GROWTH + pages / IN_FILE);
  }

  /** Records bytes committed since the last statfs. */
  committed(bytes: number): void {
    this.sinceStatfs += bytes;
    if (!this.reserveHeld && this.reserveBytes > 0 && performance.now() - this.reserveFailedAt > 1000 && this.estimate() >= this.minFree + this.reserveBytes) this.makeReserve();
  }

  /** Writes the reserve file (at open, and when the margin is back after it was released). */
  makeReserve(): void {
    if (this.reserveBytes <= 0) return;
    try {
      writeFileSync(this.reserveFile, Buffer.alloc(this.reserveBytes), { mode: 0o600 });
      this.reserveHeld = true;
      this.sinceStatfs += this.reserveBytes / GROWTH;
    } catch {
      // No room for it now (a partial file would only eat space): try again later.
      rmSync(this.reserveFile, { force: true });
      this.reserveHeld = false;
      this.reserveFailedAt = performance.now();
    }
  }

  /**
   * SQLite reported the disk full: release the reserve and copy the WAL into the main file, starting
   * the WAL over from its beginning so later commits reuse the blocks it already holds. From now on
   * every commit drops as much as it adds until statfs shows the margin again.
   */
  relieve(db: Database.Database): void {
    this.fullSeen = true;
    if (this.reserveHeld || this.reserveBytes > 0) {
      rmSync(this.reserveFile, { force: true });
      this.reserveHeld = false;
    }
    try {
      db.pragma("wal_checkpoint(RESTART)");
    } catch {
      // Not even that: the retry after dropping will tell.
    }
  }
}
