import { copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Where a gateway's identity files live, from its config (docs/identity.md "Files"). */
export function crlFileOf(certFile: string): string {
  return join(dirname(certFile), "crl.pem");
}

/** Writes `text` to `file` via tmp + rename, keeping the previous version as `<file>.prev`. */
export function replaceFile(file: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  if (existsSync(file)) copyFileSync(file, `${file}.prev`);
  writeFileSync(`${file}.tmp`, text, { mode });
  renameSync(`${file}.tmp`, file);
}
