import { X509Certificate } from "node:crypto";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { EstError, KeyStoreError } from "../../../kernel/errors.js";
import { systemClock } from "../../../kernel/clock.js";
import { keyId } from "../../../kernel/keystore.js";
import { readCertificatePem } from "../../../kernel/pem.js";
import { AuditLog, AUDIT_EVENTS } from "../../../firmware/audit/audit-log.js";
import { loadConfig, readConfigBytes } from "../../../firmware/config/load.js";
import { attestAndEnroll, type EnrollStep } from "../../../provisioning/attest/enroll.js";
import { bootStateAudit, crlFileOf, handOverTo, replaceFile, writeBootState } from "../../../provisioning/attest/files.js";
import type { BootVerdict } from "../../../provisioning/attest/protocol.js";
import { EstClient, fetchCaByFingerprint } from "../../../provisioning/est/client.js";
import { TpmKeyStore, type TpmSigner } from "../../../provisioning/tpm/tpm-keystore.js";

export interface ProvisionOptions {
  id: string;
  est: string;
  caFingerprint?: string;
  estCa?: string;
  tcti: string;
  template: string;
  out: string;
  stateDir?: string;
  uplink?: string;
  uplinkCa?: string;
  receiverKey?: string;
  keyName: string;
}

const STEPS: Record<EnrollStep, string> = {
  key: "create the identity key inside the TPM", ek: "read the TPM's endorsement certificate", attest: "send EK certificate and key to the fleet CA",
  activate: "prove the key is in this TPM (credential activation)", quote: "quote the boot state (TPM2_Quote by the attestation key)", csr: "sign the certificate request in the TPM", enroll: "receive the certificate (EST simpleenroll)", verify: "check the certificate",
};

/**
 * `otgw provision`: from nothing to an enrolled gateway. Key in the TPM, attestation, EST enrollment,
 * then the config written (and validated) for `otgw run`. Prints each step, then a summary.
 */
export async function provisionCommand(o: ProvisionOptions): Promise<number> {
  const out = resolve(o.out);
  const template = parseYaml(readConfigBytes(o.template).toString("utf8")) as Record<string, unknown>;
  const section = (k: string): Record<string, unknown> => (template[k] ??= {}) as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const stateDir = resolve(o.stateDir ?? str(section("gateway").stateDir) ?? join(dirname(out), "state"));
  const idDir = join(stateDir, "identity");
  const keyDir = join(stateDir, "keys");
  let n = 0;
  const step = (text: string): void => { console.log(`[${++n}] ${text}`); };

  step(`EST server ${o.est}: establish trust`);
  let caPem: string;
  if (o.estCa) caPem = readCertificatePem(o.estCa, { what: "the fleet CA certificate (--est-ca)", fix: "pass the fleet CA's ca.crt (PEM) from the fleet operator, or use --ca-fingerprint" });
  else if (o.caFingerprint) caPem = await fetchCaByFingerprint(o.est, o.caFingerprint);
  else throw new EstError("EST_TRUST", "say how to trust the EST server: --ca-fingerprint <sha256 from the fleet operator> or --est-ca <fleet CA file>");
  console.log(`    fleet CA ${new X509Certificate(caPem).subject.replace(/\n/g, ", ")} (${new X509Certificate(caPem).fingerprint256})`);

  step(`TPM at ${o.tcti}: ${STEPS.key}`);
  const store = new TpmKeyStore(keyDir, o.tcti);
  try {
    if (await store.has(o.keyName)) {
      throw new KeyStoreError("KEY_EXISTS", `${store.keyFile(o.keyName)} exists: this gateway is already provisioned (see \`otgw identity show\`); to start over, move ${keyDir} away first`);
    }
    const signer = (await store.create(o.keyName)) as TpmSigner;
    console.log(`    key ${store.keyFile(o.keyName)} (TPM-wrapped, fixedTPM/fixedParent)`);
    const est = new EstClient({ url: o.est, caPem });
    const ak = await store.attestationKey(o.keyName);
    let boot: BootVerdict | undefined;
    const certPem = await attestAndEnroll({
      store, signer, gatewayId: o.id, est, op: "simpleenroll", progress: (s) => step(STEPS[s]), ak,
      onBootState: (v) => { boot = v; console.log(`    measured boot: ${v.summary}`); },
    });
    const certFile = join(idDir, "gateway.cert.pem");
    const caFile = join(idDir, "fleet-ca.cert.pem");
    replaceFile(certFile, certPem);
    replaceFile(caFile, caPem);
    replaceFile(crlFileOf(certFile), await est.crl());
    if (boot) writeBootState(certFile, boot, "provision", new X509Certificate(certPem).serialNumber);
    // The gateway's audit log starts with its enrollment, checkpointed by the new TPM key itself.
    const issued = new X509Certificate(certPem);
    const audit = AuditLog.open(join(stateDir, "audit.jsonl"), { signer, clock: systemClock, checkpointEvery: 100 });
    audit.append(AUDIT_EVENTS.identityProvisioned, {
      gatewayId: o.id, serial: issued.serialNumber, notAfter: new Date(issued.validTo).toISOString(), tcti: o.tcti,
      keyId: keyId(signer.publicKey()),
      est: o.est, fleetCaSha256: new X509Certificate(caPem).fingerprint256,
    });
    if (boot) audit.append(AUDIT_EVENTS.identityBootState, bootStateAudit(boot, "provision"));
    await audit.close();

    step(`write the gateway config ${out}`);
    Object.assign(section("gateway"), { id: o.id, stateDir });
    const tpmSection: Record<string, unknown> = { tcti: o.tcti };
    // The egress allowlist is rendered from the template on the read-only root, never from this
    // config (docs/egress.md "Which config"): endpoints that differ from it will be blocked.
    const templEst = str((section("identity").est as Record<string, unknown> | undefined)?.url);
    if (templEst !== o.est) console.log(`    warning: --est ${o.est} differs from the template's identity.est.url (${templEst ?? "unset"}); the egress allowlist only admits the template's`);
    if (o.uplink && o.uplink !== str(section("uplink").url)) console.log(`    warning: --uplink ${o.uplink} differs from the template's uplink.url; the egress allowlist only admits the template's`);
    Object.assign(section("identity"), { keystore: "tpm", keyName: o.keyName, keyDir, certFile, caFile, tpm: tpmSection, est: { url: o.est } });
    if (o.uplink) section("uplink").url = o.uplink;
    if (o.uplinkCa) section("uplink").caFile = resolve(o.uplinkCa);
    else if (!existsSync(str(section("uplink").caFile) ?? "")) section("uplink").caFile = caFile;
    if (o.receiverKey) section("receiver").publicKeyFile = resolve(o.receiverKey);
    // The config appears last and atomically: `otgw service` starts the gateway as soon as it sees it,
    // so by then every file it names must be complete and readable by the service user.
    writeFileSync(`${out}.tmp`, /\.ya?ml$/.test(out) ? toYaml(template) : `${JSON.stringify(template, null, 2)}\n`);
    handOverTo(dirname(out), [keyDir, idDir, join(stateDir, "audit.jsonl"), `${out}.tmp`]);
    renameSync(`${out}.tmp`, out);
    loadConfig(out);
    const cert = new X509Certificate(certPem);
    console.log("");
    console.log(`provisioned ${o.id}`);
    console.log(`  certificate  ${cert.serialNumber}  valid until ${cert.validTo}`);
    console.log(`  key          in the TPM (${o.tcti}); file ${store.keyFile(o.keyName)} is useless on any other TPM`);
    console.log(`  config       ${out}`);
    console.log(`  next         otgw check -c ${out}   then   otgw run -c ${out}`);
    return 0;
  } finally {
    await store.close();
  }
}
