import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IdentityError } from "../../kernel/errors.js";
import type { Signer } from "../../kernel/keystore.js";
import { TpmKeyStore } from "./tpm-keystore.js";
import { startTlsSidecar, type TlsSidecar } from "./tls-sidecar.js";

/** What a TPM identity gives the runtime: the signer, TLS material and how to release the TPM. */
export interface TpmIdentity {
  signer: Signer;
  /** The TSS2 PRIVATE KEY PEM (TPM-wrapped; only the tpm2 provider can use it) and the certificate. */
  keyPem: string;
  certPem: string;
  daysLeft: number;
  store: TpmKeyStore;
  /** The TLS sidecar for the uplink, when asked for. */
  sidecar?: TlsSidecar;
  close(): Promise<void>;
}

/** Sidecars started by this process: each gets its own socket (a new identity runs beside the old one). */
let sidecars = 0;

/** The uplink a sidecar should connect to. */
export interface SidecarTarget {
  /** `mqtts://host:port`. */
  url: string;
  /** Broker trust anchors, PEM. */
  caPem: string;
  /** Where the sidecar's unix socket goes (0700 directory). */
  runDir: string;
}

/**
 * Opens the TPM key `keyName` in `keyDir` on `tcti` (it must load in this TPM), checks that the
 * certificate is this key's and valid, and with `uplink` starts the TLS sidecar, whose own start-up
 * self-test proves the tpm2 provider signs with the key.
 */
export async function openTpmIdentity(o: { keyDir: string; keyName: string; tcti: string; certFile: string; uplink?: SidecarTarget; store?: TpmKeyStore }): Promise<TpmIdentity> {
  // A store passed in is shared (identity reloads on a running gateway) and stays open on close().
  const owned = o.store === undefined;
  const store = o.store ?? new TpmKeyStore(o.keyDir, o.tcti);
  try {
    const signer = await store.open(o.keyName);
    const keyPem = readFileSync(store.keyFile(o.keyName), "utf8");
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(readFileSync(o.certFile));
    } catch (err) {
      throw new IdentityError("IDENTITY_FILE", `cannot read the gateway certificate ${o.certFile} (${(err as Error).message}): enroll with \`otgw provision\``);
    }
    if (!cert.publicKey.equals(signer.publicKey())) {
      throw new IdentityError("CERT_KEY_MISMATCH", "the gateway certificate is not for the TPM key (a certificate from another gateway or an earlier key): run `otgw identity renew` to get one for this key");
    }
    const now = Date.now();
    if (now > Date.parse(cert.validTo)) throw new IdentityError("CERT_EXPIRED", `the gateway certificate expired on ${cert.validTo}: run \`otgw identity renew\` (or re-enroll with \`otgw provision\`)`);
    const daysLeft = Math.floor((Date.parse(cert.validTo) - now) / 86_400_000);
    let sidecar: TlsSidecar | undefined;
    if (o.uplink) {
      const u = new URL(o.uplink.url);
      mkdirSync(o.uplink.runDir, { recursive: true, mode: 0o700 });
      const host = u.hostname.replace(/^\[|\]$/g, "");
      sidecar = await startTlsSidecar({
        tcti: o.tcti, keyPem, certPem: cert.toString(), publicKeyPem: signer.publicKey().export({ type: "spki", format: "pem" }).toString(), caPem: o.uplink.caPem,
        host, port: Number(u.port || 8883), ...(/^[0-9.:]+$/.test(host) ? {} : { servername: host }), socketPath: join(o.uplink.runDir, `uplink-${process.pid}-${++sidecars}.sock`),
      });
    }
    return {
      signer, keyPem, certPem: cert.toString(), daysLeft, store, ...(sidecar ? { sidecar } : {}),
      async close() { await sidecar?.close(); if (owned) await store.close(); },
    };
  } catch (err) {
    if (owned) await store.close();
    throw err;
  }
}
