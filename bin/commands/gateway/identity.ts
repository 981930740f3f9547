import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { loadConfig } from "../../../firmware/config/load.js";
import type { GatewayConfig } from "../../../firmware/config/schema.js";
import { IdentityError, EstError } from "../../../kernel/errors.js";
import { keyDirOf, tctiOf } from "../../../provisioning/identity.js";
import { keyId } from "../../../kernel/keystore.js";
import { readCertificateFile } from "../../../kernel/pem.js";
import { attestAndEnroll, proveBootState } from "../../../provisioning/attest/enroll.js";
import { crlFileOf, replaceFile, writeBootState } from "../../../provisioning/attest/files.js";
import type { BootVerdict } from "../../../provisioning/attest/protocol.js";
import { lockIdentity } from "../../../provisioning/attest/lock.js";
import { EstClient } from "../../../provisioning/est/client.js";
import { buildCsr } from "../../../provisioning/est/csr.js";
import type { KeyStore } from "../../../kernel/keystore.js";
import { SoftwareKeyStore } from "../../../provisioning/software-keystore.js";
import { providerRequested, reexecWithProvider } from "../../../provisioning/tpm/provider.js";
import { TpmKeyStore, type TpmSigner } from "../../../provisioning/tpm/tpm-keystore.js";

function storeOf(config: GatewayConfig): KeyStore & { close?: () => Promise<void> } {
  return config.identity.keystore === "tpm" ? new TpmKeyStore(keyDirOf(config), tctiOf(config)) : new SoftwareKeyStore(keyDirOf(config));
}

const CERT_ROLE = {
  what: "the gateway certificate (identity.certFile)",
  fix: "restore it from a backup, or enroll again with `otgw provision` (a renewal needs the current certificate)",
};

/** `otgw identity show`: the key, where it lives, and the certificate. */
export async function identityShowCommand(configFile: string): Promise<number> {
  const { config } = loadConfig(configFile);
  const store = storeOf(config);
  try {
    const signer = await store.open(config.identity.keyName);
    console.log(`gateway      ${config.gateway.id}`);
    console.log(`key          ${config.identity.keyName} in ${store.kind === "tpm" ? `the TPM (${tctiOf(config)})` : "a FILE (software, development only)"}`);
    console.log(`key id       sha256:${keyId(signer.publicKey())}`);
    const cert = readCertificateFile(config.identity.certFile, CERT_ROLE);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    console.log(`certificate  ${cert.subject.replace(/\n/g, ", ")}  serial ${cert.serialNumber}`);
    console.log(`             ${cert.subjectAltName ?? ""}`);
    console.log(`             valid ${cert.validFrom} .. ${cert.validTo} (${days.toFixed(1)} days left)`);
    console.log(`             issuer ${cert.issuer.replace(/\n/g, ", ")}; matches key: ${cert.publicKey.equals(signer.publicKey()) ? "yes" : "NO: run otgw identity renew"}`);
    console.log(`EST          ${config.identity.est?.url ?? "(not configured: renewal needs identity.est.url)"}`);
    return 0;
  } finally {
    await store.close?.();
  }
}

function estFor(config: GatewayConfig, keyPem: string): EstClient {
  const url = config.identity.est?.url;
  if (!url) throw new EstError("EST_NOT_CONFIGURED", "identity.est.url is not set in the config: add the fleet's EST server (otgw provision writes it)");
  return new EstClient({ url, caPem: readFileSync(config.identity.caFile, "utf8"), clientTls: { cert: readFileSync(config.identity.certFile, "utf8"), key: keyPem } });
}

/**
 * `otgw identity renew`: a new certificate for the same key (EST simplereenroll, authenticated by the
 * current certificate). `rotate`: a new TPM key, attested, enrolled under the current identity; the
 * old key and certificate are kept as *.prev until the next rotation.
 */
export async function identityRenewCommand(configFile: string, mode: "renew" | "rotate"): Promise<number> {
  const { config } = loadConfig(configFile);
  if (config.identity.keystore === "tpm" && !providerRequested()) return reexecWithProvider(tctiOf(config));
  const unlock = lockIdentity(config.identity.certFile);
  const store = storeOf(config);
  const name = config.identity.keyName;
  try {
    const old = readCertificateFile(config.identity.certFile, CERT_ROLE);
    const keyFile = store instanceof TpmKeyStore ? store.keyFile(name) : `${keyDirOf(config)}/${name}.key.pem`;
    const est = estFor(config, readFileSync(keyFile, "utf8"));
    let certPem: string;
    let boot: BootVerdict | undefined;
    if (mode === "renew") {
      const signer = await store.open(name);
      // The boot state is proven again at every renewal: a gateway whose PCRs changed is refused here.
      // A gateway enrolled before boot-state quotes has no AK the fleet bound: `otgw identity rotate` binds one.
      if (store instanceof TpmKeyStore && existsSync(store.attestationKeyFile(name))) {
        boot = await proveBootState({ store, ak: await store.attestationKey(name), gatewayId: config.gateway.id, est });
        console.log(`  measured boot: ${boot.summary}`);
      }
      certPem = await est.enroll(await buildCsr({ commonName: config.gateway.id, publicKey: signer.publicKey(), sign: (t) => signer.sign(t) }), "simplereenroll");
    } else {
      if (!(store instanceof TpmKeyStore)) throw new IdentityError("ROTATE_NEEDS_TPM", "rotation attests the new key in the TPM: a software identity can only be renewed");
      const next = `${name}-next`;
      if (await store.has(next)) renameSync(store.keyFile(next), `${store.keyFile(next)}.abandoned-${Date.now()}`);
      const signer = (await store.create(next)) as TpmSigner;
      certPem = await attestAndEnroll({
        store, signer, gatewayId: config.gateway.id, est, op: "simplereenroll", progress: (s) => console.log(`  ${s}`), ak: await store.attestationKey(name),
        onBootState: (v) => { boot = v; console.log(`  measured boot: ${v.summary}`); },
      });
      // Make the new key current only once its certificate is in hand (make-before-break on disk).
      if (existsSync(keyFile)) renameSync(keyFile, `${keyFile}.prev`);
      renameSync(store.keyFile(next), keyFile);
    }
    replaceFile(config.identity.certFile, certPem);
    if (boot) writeBootState(config.identity.certFile, boot, mode, new X509Certificate(certPem).serialNumber);
    try {
      replaceFile(crlFileOf(config.identity.certFile), await est.crl());
    } catch { /* the CRL refresh is best effort here; `otgw check` reports staleness */ }
    const cert = new X509Certificate(certPem);
    console.log(`${mode === "renew" ? "renewed" : "rotated"} ${config.gateway.id}: serial ${old.serialNumber} -> ${cert.serialNumber}, valid until ${cert.validTo}`);
    console.log("a running gateway switches to it within identity.renewal.checkEveryMs, make-before-break (docs/identity.md)");
    return 0;
  } finally {
    unlock();
    await store.close?.();
  }
}
