import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { InputFileError } from "./errors.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Caps on what the gateway reads into memory (docs/config.md "Size limits"), checked on the open file
 * before reading. The config is parsed as a YAML document with positions (for line numbers in
 * problems), which costs about 100 bytes of heap per byte of input: measured with `otgw config check`
 * under GATEWAY_NODE_FLAGS (48 MB old space), a generated 384 KiB config passes and 512 KiB and
 * 1 MiB ones die with "JavaScript heap out of memory" (exit 134), as a 4 MB one did under the
 * service's 96 MB. Real configs are far smaller: the examples are under 5 KiB, and a Modbus point with
 * its register-map entry is about 175 bytes, so 256 KiB still holds some 1,500 points.
 */
export const INPUT_LIMITS = {
  /** The gateway config (YAML or JSON) and the provisioning template. */
  config: 256 * KiB,
  /** A JSON state file of the gateway (the model store's state). */
  state: 1 * MiB,
  /** A signed model bundle (a few KiB of model and provenance in practice). */
  bundle: 1 * MiB,
  /** A PEM/DER key, certificate or certificate bundle (a chain of a few certificates is under 10 KiB). */
  pem: 256 * KiB,
} as const;

/** "1 MiB", "4.0 MiB", "300 KiB", "12 bytes". */
function formatBytes(n: number): string {
  if (n >= MiB) return n % MiB === 0 ? `${n / MiB} MiB` : `${(n / MiB).toFixed(1)} MiB`;
  if (n >= KiB) return n % KiB === 0 ? `${n / KiB} KiB` : `${(n / KiB).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * Reads `file` whole unless it is larger than `maxBytes`, which throws InputFileError
 * (INPUT_TOO_LARGE) naming the file, its size and the cap, before a byte of it is read. The size is
 * taken from the open file (fstat), and the read stops one byte past the cap too, so a file that grows
 * meanwhile or a pipe (size 0 to fstat) cannot get past it. Errors opening the file (ENOENT, EACCES)
 * are Node's own, for the caller to word.
 */
export function readCappedFile(file: string, o: { maxBytes: number; what: string }): Buffer {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    if (size > o.maxBytes) throw tooLarge(file, o, formatBytes(size));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * KiB, o.maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > o.maxBytes) throw tooLarge(file, o, `more than ${formatBytes(o.maxBytes)}`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

function tooLarge(file: string, o: { maxBytes: number; what: string }, size: string): InputFileError {
  return new InputFileError(
    "INPUT_TOO_LARGE",
    `${file}: ${o.what} is ${size}, over its ${formatBytes(o.maxBytes)} limit, so it was not read; check that this is the right file (docs/config.md "Size limits")`,
  );
}
