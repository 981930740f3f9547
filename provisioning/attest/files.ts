import { chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import type { BootVerdict } from "./protocol.js";
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

/**
 * When root provisions into a state directory that the service user owns (on the image:
 * /var/lib/otgw, otgw:otgw), hands the new files and directories over to that owner, so the
 * sandboxed service can read its key, certificate and config (docs/service.md "First boot").
 * A no-op when not root or when the directory belongs to root.
 */
export function handOverTo(ownerDir: string, paths: readonly string[]): void {
  if (process.getuid?.() !== 0 || !existsSync(ownerDir)) return;
  const { uid, gid } = statSync(ownerDir);
  if (uid === 0) return;
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    chownSync(p, uid, gid);
    if (statSync(p).isDirectory()) for (const f of readdirSync(p)) walk(join(p, f));
  };
  paths.forEach(walk);
}

/** The fleet's last boot-state verdict for this gateway, with when it was given (`otgw check` reads it). */
export interface BootStateFile extends BootVerdict {
  at: string;
  op: string;
  /** Serial of the certificate this verdict was given for. */
  serial: string;
}

export function bootStateFileOf(certFile: string): string {
  return join(dirname(certFile), "boot-state.json");
}

/** Records the verdict of the quote that went with the certificate in `certFile`. */
export function writeBootState(certFile: string, v: BootVerdict, op: string, serial: string): void {
  replaceFile(bootStateFileOf(certFile), `${JSON.stringify({ ...v, at: new Date().toISOString(), op, serial }, null, 2)}\n`);
}

/** The `identity.boot-state` audit entry's data (docs/audit-log.md): no key material, PCR values only. */
export function bootStateAudit(v: BootVerdict, op: string): Record<string, unknown> {
  return {
    op, status: v.status, pcrs: v.pcrs, eventLog: v.eventLog,
    ...(v.policy ? { policy: `${v.policy.image} ${v.policy.version}` } : {}), ...(v.differ ? { differ: v.differ } : {}),
  };
}

/** The last verdict, or undefined when none was recorded (enrolled without a quote, or before #18). */
export function readBootState(certFile: string): BootStateFile | undefined {
  const f = bootStateFileOf(certFile);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as BootStateFile;
  } catch {
    return undefined;
  }
}
