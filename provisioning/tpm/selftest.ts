import { createPrivateKey, randomBytes, sign as cryptoSign, verify, X509Certificate, type KeyObject } from "node:crypto";
import { IdentityError, TpmError } from "../../kernel/errors.js";
import { providerRequested } from "./provider.js";

/**
 * Start-up self-test of TLS with a TPM key, run in the process that will do the TLS: the tpm2 provider
 * is loaded, it can load the key file, the TPM signs through it, and the certificate is this key's and
 * is valid. Each failure names the fix, because the reader is a technician on site.
 */
export async function tpmTlsSelfTest(m: { keyPem: string; certPem: string; tcti: string; publicKey: KeyObject; now?: number }): Promise<{ daysLeft: number }> {
  if (!providerRequested()) {
    throw new TpmError("TPM_PROVIDER_NOT_LOADED", "this process was not started with the tpm2 OpenSSL provider: `otgw run` does TPM TLS in its sidecar process, which is started with OPENSSL_CONF and --openssl-shared-config (docs/identity.md)");
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(m.keyPem);
  } catch (err) {
    throw new TpmError("TPM_PROVIDER_LOAD", `the tpm2 provider cannot load the TPM key (${(err as Error).message}): check that tpm2-openssl is installed, that TPM2OPENSSL_TCTI (${m.tcti}) reaches the TPM, and that the key file was made by \`otgw provision\``);
  }
  const challenge = randomBytes(32);
  let sig: Buffer;
  try {
    sig = await new Promise<Buffer>((resolve, reject) => cryptoSign("sha256", challenge, key, (err, s) => (err ? reject(err) : resolve(s))));
  } catch (err) {
    throw new TpmError("TPM_PROVIDER_SIGN", `the TPM did not sign through the tpm2 provider (${(err as Error).message}): check TPM2OPENSSL_TCTI=${m.tcti}; with a bare swtpm, put tpm2-abrmd in front of it (one client at a time otherwise); on a device use device:/dev/tpmrm0`);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(m.certPem);
  } catch (err) {
    throw new IdentityError("CERT_INVALID", `the gateway certificate does not parse (${(err as Error).message}): run \`otgw identity renew\``);
  }
  if (!verify("sha256", challenge, cert.publicKey, sig) || !cert.publicKey.equals(m.publicKey)) {
    throw new IdentityError("CERT_KEY_MISMATCH", "the gateway certificate is not for the TPM key (a certificate from another gateway or an earlier key): run `otgw identity renew` to get one for this key");
  }
  const now = m.now ?? Date.now();
  const notAfter = Date.parse(cert.validTo);
  if (now > notAfter) throw new IdentityError("CERT_EXPIRED", `the gateway certificate expired on ${cert.validTo}: run \`otgw identity renew\` (or re-enroll with \`otgw provision\`)`);
  if (now < Date.parse(cert.validFrom)) throw new IdentityError("CERT_NOT_YET_VALID", `the gateway certificate is valid only from ${cert.validFrom}: check the clock (timedatectl)`);
  return { daysLeft: Math.floor((notAfter - now) / 86_400_000) };
}
