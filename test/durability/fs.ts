import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
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
  const out = execFileSync("df", ["-B1", "--output=avail", dir], { encoding: "utf8" });
  return Number(out.trim().split("\n").at(-1));
}
