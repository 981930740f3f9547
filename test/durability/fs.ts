import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, statfsSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A small filesystem the test owns: tmpfs of `size` (e.g. "3m") mounted on a fresh directory.
 * Needs root (CI runs as root). Throws with the reason if it cannot mount: never a silent skip.
 */
export function mountSmallFs(size: string): { dir: string; unmount: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "otgw-smallfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const raw = (err as { stderr?: unknown }).stderr;
    const stderr = Buffer.isBuffer(raw) ? raw.toString("utf8") : typeof raw === "string" ? raw : "";
    throw new Error(`disk-full test needs a small filesystem it owns: mount -t tmpfs failed (${stderr.trim() || String(err)}); run the tests as root`);
  }
  return {
    dir,
    unmount: () => {
      try {
        execFileSync("umount", ["-l", dir], { stdio: "ignore" });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Free bytes on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

/**
 * Fills the filesystem under `dir` with one file until only `leave` bytes (rounded down to 512) are
 * free, as another process would; returns its path (remove it to give the space back).
 */
export function fillDisk(dir: string, leave = 0): string {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (let size = chunk.length; size >= 512; ) {
      const room = freeBytes(dir) - leave;
      if (room < 512) break;
      try {
        writeSync(fd, chunk, 0, Math.min(size, room - (room % 512)));
      } catch (err) {
        if ((err as { code?: string }).code !== "ENOSPC") throw err;
        size = size / 2;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}
