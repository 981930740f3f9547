import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { IdentityError } from "../kernel/errors.js";
import type { IdentityConfig } from "./identity-schema.js";
import type { Signer } from "../kernel/keystore.js";
import { SoftwareKeyStore } from "./software-keystore.js";
import { openTpmIdentity } from "./tpm/runtime-identity.js";
import { TpmKeyStore } from "./tpm/tpm-keystore.js";

/** The gateway's identity as the runtime uses it: a signer and the TLS credentials of the uplink. */
export interface GatewayIdentity {
  signer: Signer;
  tls: { ca: string; cert: string; key: string; via?: string };
  /** Releases this identity's TLS sidecar, and the TPM connection with the last identity (TPM identities); absent for software keys. */
  close?: () => Promise<void>;
  /**
   * Loads the key and certificate files as they are now (after `otgw identity renew|rotate`) as a second,
   * independent identity — for a TPM key with its own TLS sidecar — while this one keeps working, so
   * the uplink can switch make-before-break. Throws IdentityError when the files do not fit together.
   */
  reload: () => Promise<GatewayIdentity>;
  /**
   * TPM identities: calls `listener` when the sidecar's TLS to the broker fails (e.g. the broker refuses
   * the certificate), which the uplink cannot see through the sidecar's socket. Software identities
   * have no sidecar: the uplink reports TLS failures itself.
   */
  onTlsError?: (listener: (error: string, code: string | undefined) => void) => void;
}

/**
 * The parts of the gateway config that opening the identity reads. A loaded GatewayConfig has this shape,
 * so callers pass it whole; provisioning/ never imports the firmware's config.
 */
export interface IdentityContext {
  gateway: { mode: "development" | "production"; stateDir: string };
  identity: IdentityConfig;
  /** The broker the TLS credentials are for: a TPM identity's sidecar connects to it. */
  uplink: { url: string; caFile: string };
  overrides: { allowSoftwareKeys?: { reason: string } };
}

/** The TCTI of a TPM identity: identity.tpm.tcti, default the kernel resource manager. */
export function tctiOf(config: Pick<IdentityContext, "identity">): string {
  return config.identity.tpm?.tcti ?? "device:/dev/tpmrm0";
}

/** The key directory: identity.keyDir, default <stateDir>/keys. */
export function keyDirOf(config: Pick<IdentityContext, "identity"> & { gateway: { stateDir: string } }): string {
  return config.identity.keyDir ?? join(config.gateway.stateDir, "keys");
}

/**
 * Opens the identity named in the config. Production mode refuses a software key unless the config
 * carries an explicit override with a reason (the caller audits it); the check lives in the config's
 * cross-field rules as well, so `otgw config check` reports it before anything starts.
 */
export async function openIdentity(config: IdentityContext): Promise<GatewayIdentity> {
  const id = config.identity;
  if (id.keystore === "tpm") {
    // The TLS key is the TSS2 key file, usable only through the tpm2 OpenSSL provider, which runs in a
    // sidecar process (provisioning/tpm/tls-sidecar.ts explains why); the uplink talks to its socket.
    let ca: string;
    try {
      ca = readFileSync(config.uplink.caFile, "utf8");
    } catch (err) {
      throw new IdentityError("IDENTITY_FILE", `cannot read uplink CA ${config.uplink.caFile}: ${(err as Error).message}; provision the gateway first`);
    }
    // One TPM connection shared by the identity in use and the one being switched to; closed with the last.
    const store = new TpmKeyStore(keyDirOf(config), tctiOf(config));
    let users = 0;
    const load = async (): Promise<GatewayIdentity> => {
      const t = await openTpmIdentity({
        keyDir: keyDirOf(config), keyName: id.keyName, tcti: tctiOf(config), certFile: id.certFile, store,
        uplink: { url: config.uplink.url, caPem: ca, runDir: join(config.gateway.stateDir, "run") },
      });
      users++;
      let closed = false;
      return {
        signer: t.signer, tls: { ca, cert: t.certPem, key: t.keyPem, ...(t.sidecar ? { via: t.sidecar.socketPath } : {}) }, reload: load,
        onTlsError: (f) => t.sidecar?.onUpstreamError(f),
        close: async () => {
          if (closed) return;
          closed = true;
          await t.close();
          if (--users === 0) await store.close();
        },
      };
    };
    try {
      return await load();
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  if (config.gateway.mode === "production" && !config.overrides.allowSoftwareKeys) {
    throw new IdentityError("SOFTWARE_KEY_REFUSED", "production mode refuses software keys: provision a TPM identity, or set overrides.allowSoftwareKeys.reason (audited)");
  }
  return openSoftwareIdentity(config);
}

async function openSoftwareIdentity(config: IdentityContext): Promise<GatewayIdentity> {
  const id = config.identity;
  const dir = keyDirOf(config);
  const signer = await new SoftwareKeyStore(dir).open(id.keyName);
  const read = (f: string, what: string): string => {
    try {
      return readFileSync(f, "utf8");
    } catch (err) {
      throw new IdentityError("IDENTITY_FILE", `cannot read ${what} ${f}: ${(err as Error).message}; provision the gateway first`);
    }
  };
  const cert = read(id.certFile, "gateway certificate");
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch (err) {
    throw new IdentityError("CERT_INVALID", `the gateway certificate ${id.certFile} (identity.certFile) does not parse (OpenSSL: ${(err as Error).message}): restore it from a backup, or have the fleet CA issue a new one for this key`);
  }
  if (!parsed.publicKey.equals(signer.publicKey())) {
    throw new IdentityError("CERT_KEY_MISMATCH", "the gateway certificate is not for the gateway key (a certificate from another gateway or an earlier key): run `otgw identity renew` to get one for this key");
  }
  return {
    signer,
    tls: { ca: read(config.uplink.caFile, "uplink CA"), cert, key: read(join(dir, `${id.keyName}.key.pem`), "gateway key") },
    reload: () => openSoftwareIdentity(config),
  };
}
