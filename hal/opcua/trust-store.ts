import { X509Certificate, createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SourceError } from "../../kernel/errors.js";
import { readCertificateFile } from "../../kernel/pem.js";

/** Where a certificate sits in the trust store. */
export type TrustState = "trusted" | "rejected";

export interface TrustEntry {
  state: TrustState;
  /** SHA-1 of the DER, lowercase hex: the OPC UA certificate thumbprint. */
  thumbprint: string;
  subject: string;
  notAfter: string;
  file: string;
}

/** Lowercase hex SHA-1 of a DER certificate (the OPC UA thumbprint). */
export function thumbprintOf(der: Buffer): string {
  return createHash("sha1").update(der).digest("hex");
}

/** One-line subject, e.g. "CN=Pump PLC, O=ACME". */
export function subjectOf(cert: X509Certificate): string {
  return cert.subject.split("\n").filter(Boolean).join(", ");
}

/** The DER of the certificate in `file` (PEM or DER); a file that holds none is an error naming it. */
function derFrom(file: string): Buffer {
  const cert = readCertificateFile(file, {
    what: "the OPC UA server certificate",
    fix: "give the server's certificate as PEM or DER (export it from the server, or trust the thumbprint recorded by `otgw trust opcua list`)",
  });
  return Buffer.from(cert.raw);
}

/** Normalizes a thumbprint as typed by a person: colons, spaces and case do not matter. */
export function normalizeThumbprint(t: string): string {
  return t.replace(/[\s:]/g, "").toLowerCase();
}

/**
 * The OPC UA trust store on disk, in node-opcua's PKI layout so the client library and the technician's
 * CLI see the same files: `trusted/certs/` and `rejected/` hold `<label>[<thumbprint>].pem` (or .der);
 * `own/` holds the gateway's application instance certificate and key. A server certificate is trusted
 * only when its file is in `trusted/certs/`; one seen for the first time is recorded in `rejected/` so
 * the technician can inspect it and trust it by thumbprint.
 */
export class TrustStore {
  constructor(readonly dir: string) {}

  private folder(state: TrustState): string {
    return state === "trusted" ? join(this.dir, "trusted", "certs") : join(this.dir, "rejected");
  }

  /** Every certificate in trusted/ and rejected/ (unparseable files are skipped). */
  list(): TrustEntry[] {
    const out: TrustEntry[] = [];
    for (const state of ["trusted", "rejected"] as const) {
      const dir = this.folder(state);
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        if (!/\.(pem|der)$/i.test(name)) continue;
        const file = join(dir, name);
        try {
          const der = derFrom(file);
          const cert = new X509Certificate(der);
          out.push({ state, thumbprint: thumbprintOf(der), subject: subjectOf(cert), notAfter: cert.validTo, file });
        } catch {
          // Not a certificate: not ours to judge or delete.
        }
      }
    }
    return out;
  }

  /** trusted, rejected, or unknown (never seen) for a DER certificate. */
  status(der: Buffer): TrustState | "unknown" {
    const t = thumbprintOf(der);
    const e = this.list().filter((x) => x.thumbprint === t);
    if (e.some((x) => x.state === "trusted")) return "trusted";
    return e.length > 0 ? "rejected" : "unknown";
  }

  /** Records a certificate seen for the first time in rejected/ (so `otgw trust opcua list` shows it). */
  recordRejected(der: Buffer): TrustEntry {
    const cert = new X509Certificate(der);
    const thumbprint = thumbprintOf(der);
    const existing = this.list().find((x) => x.thumbprint === thumbprint);
    if (existing) return existing;
    mkdirSync(this.folder("rejected"), { recursive: true });
    const cn = /CN=([^\n,]*)/.exec(cert.subject)?.[1] ?? "certificate";
    const file = join(this.folder("rejected"), `${cn.replace(/[^A-Za-z0-9._ -]/g, "_").slice(0, 64) || "certificate"}[${thumbprint}].pem`);
    writeFileSync(file, cert.toString());
    return { state: "rejected", thumbprint, subject: subjectOf(cert), notAfter: cert.validTo, file };
  }

  /** Moves the certificate with this thumbprint to trusted/ (from rejected/), or adds a certificate file. */
  trust(thumbprintOrFile: { thumbprint: string } | { file: string }): TrustEntry {
    if ("file" in thumbprintOrFile) {
      const der = derFrom(thumbprintOrFile.file);
      const rec = this.recordRejected(der);
      return this.move(rec.thumbprint, "trusted");
    }
    return this.move(normalizeThumbprint(thumbprintOrFile.thumbprint), "trusted");
  }

  /** Moves the certificate with this thumbprint to rejected/. */
  reject(thumbprint: string): TrustEntry {
    return this.move(normalizeThumbprint(thumbprint), "rejected");
  }

  /** Deletes the certificate with this thumbprint from both folders; returns what was removed. */
  remove(thumbprint: string): TrustEntry[] {
    const t = normalizeThumbprint(thumbprint);
    const found = this.list().filter((x) => x.thumbprint === t);
    if (found.length === 0) throw this.unknown(t);
    for (const e of found) rmSync(e.file);
    return found;
  }

  private move(thumbprint: string, to: TrustState): TrustEntry {
    const found = this.list().filter((x) => x.thumbprint === thumbprint);
    if (found.length === 0) throw this.unknown(thumbprint);
    const target = found.find((x) => x.state === to);
    for (const e of found) {
      if (e === target) continue;
      if (target) rmSync(e.file);
      else {
        mkdirSync(this.folder(to), { recursive: true });
        const file = join(this.folder(to), e.file.slice(e.file.lastIndexOf("/") + 1));
        renameSync(e.file, file);
        return { ...e, state: to, file };
      }
    }
    return target!;
  }

  private unknown(thumbprint: string): SourceError {
    return new SourceError(
      "OPCUA_TRUST_UNKNOWN",
      `no certificate with thumbprint ${thumbprint} in ${this.dir}; let the gateway connect once (it records the server certificate in rejected/), ` +
        "or add it from a file with `otgw trust opcua trust --file CERT --config FILE`; `otgw trust opcua list --config FILE` shows what is there",
    );
  }
}
