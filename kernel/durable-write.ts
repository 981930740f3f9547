import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Replaces `file` with `data` atomically and durably: the bytes go to `<file>.tmp` in the same
 * directory (same filesystem, so the rename is atomic), the temp file is fsynced, renamed over `file`,
 * and the directory is fsynced so the rename itself survives a power cut. After a crash `file` holds
 * the old or the new content, never a mix; a temp file left by a crash is ignored by readers and
 * overwritten by the next write. The file gets `mode` (default 0600) whatever the umask or a leftover
 * temp file's mode. On failure the temp file is removed and the old content stays.
 */
export function writeFileDurably(file: string, data: string | Uint8Array, opts: { mode?: number } = {}): void {
  const mode = opts.mode ?? 0o600;
  const tmp = `${file}.tmp`;
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  try {
    const fd = openSync(tmp, "w", mode);
    try {
      fchmodSync(fd, mode);
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Best effort: the write's own error is the one to report.
    }
    throw err;
  }
  fsyncDirectory(dirname(file));
}

/** Makes a directory's entries (a rename, a new file) durable. */
function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
