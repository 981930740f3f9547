import { X509Certificate } from "node:crypto";
import { AttestError, EstError } from "../../kernel/errors.js";
import type { EstClient } from "../est/client.js";
import { buildCsr } from "../est/csr.js";
import { EK_CERT_NV } from "../tpm/tpm.js";
import type { TpmSigner, TpmKeyStore } from "../tpm/tpm-keystore.js";
import type { TpmKeyBlob } from "../tpm/tpm.js";
import type { BootVerdict } from "./protocol.js";
import { quoteBootState } from "./quote.js";

/** One step of enrollment, for the technician's progress display. */
export type EnrollStep = "key" | "ek" | "attest" | "activate" | "quote" | "csr" | "enroll" | "verify";

/**
 * Client side of attested enrollment: read the EK certificate, attest the key (the server returns a
 * credential bound to EK + key name), activate it in the TPM, put the recovered secret into the CSR
 * (challengePassword) and enroll. Returns the certificate, checked to be for this key and id.
 */
export async function attestAndEnroll(o: {
  store: TpmKeyStore;
  signer: TpmSigner;
  gatewayId: string;
  est: EstClient;
  op: "simpleenroll" | "simplereenroll";
  progress?: (step: EnrollStep) => void;
  /** The attestation key: bound to the EK with the identity key, it quotes the boot state. */
  ak?: TpmKeyBlob;
  /** Called with the fleet's verdict on the quote. */
  onBootState?: (v: BootVerdict) => void;
  eventLogFile?: string;
}): Promise<string> {
  const tpm = o.store.tpm();
  o.progress?.("ek");
  const ekCert = await tpm.readNv(EK_CERT_NV.rsa);
  if (!ekCert) throw new AttestError("EK_CERT_MISSING", `this TPM has no RSA EK certificate in NV 0x${EK_CERT_NV.rsa.toString(16)}: the TPM vendor did not provision one; it cannot be attested`);
  const ekPublic = await tpm.endorsementPublic();
  o.progress?.("attest");
  const ch = await o.est.attest({ gatewayId: o.gatewayId, ekCert, ekPublic, keyPublic: o.signer.blob.pub, ...(o.ak ? { akPublic: o.ak.pub } : {}) });
  o.progress?.("activate");
  const secret = await tpm.activateCredential(o.signer.blob, ch.credentialBlob, ch.secret);
  // A server that hands out no nonce predates boot-state quotes: enrollment goes on without one.
  if (o.ak && ch.ak && ch.quote) {
    const akSecret = await tpm.activateCredential(o.ak, ch.ak.credentialBlob, ch.ak.secret);
    o.progress?.("quote");
    const evidence = await quoteBootState({ tpm, ak: o.ak, nonce: ch.quote.nonce, pcrs: ch.quote.pcrs, ...(o.eventLogFile ? { eventLogFile: o.eventLogFile } : {}) });
    o.onBootState?.(await o.est.quote({ gatewayId: o.gatewayId, challengeId: ch.challengeId, akSecret: akSecret.toString("hex"), evidence }));
  }
  o.progress?.("csr");
  const csr = await buildCsr({ commonName: o.gatewayId, publicKey: o.signer.publicKey(), challengePassword: `${ch.challengeId}.${secret.toString("hex")}`, sign: (tbs) => o.signer.sign(tbs) });
  o.progress?.("enroll");
  const certPem = await o.est.enroll(csr, o.op);
  o.progress?.("verify");
  const cert = new X509Certificate(certPem);
  if (!cert.publicKey.equals(o.signer.publicKey()) || !cert.subject.split("\n").includes(`CN=${o.gatewayId}`)) {
    throw new EstError("EST_RESPONSE", "the EST server returned a certificate for another key or id: report this to the fleet operator");
  }
  return certPem;
}

/**
 * A renewal's boot-state proof: a fresh nonce from the EST server (authenticated by the current
 * certificate), a quote by the AK the fleet bound at enrollment, the verdict. The simplereenroll that
 * follows within 5 minutes is judged by it.
 */
export async function proveBootState(o: { store: TpmKeyStore; ak: TpmKeyBlob; gatewayId: string; est: EstClient; eventLogFile?: string }): Promise<BootVerdict> {
  const q = await o.est.quoteNonce();
  const evidence = await quoteBootState({ tpm: o.store.tpm(), ak: o.ak, nonce: q.nonce, pcrs: q.pcrs, ...(o.eventLogFile ? { eventLogFile: o.eventLogFile } : {}) });
  return o.est.quote({ gatewayId: o.gatewayId, evidence });
}
