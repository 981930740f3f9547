import assert from "node:assert/strict";
import { generateKeyPairSync, sign as cryptoSign, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GatewayError } from "../../kernel/errors.js";
import { silentLogger } from "../../kernel/log.js";
import { attestAndEnroll } from "../../provisioning/attest/enroll.js";
import { FleetCa, initCa } from "../../fleet/ca/fleet-ca.js";
import { EstClient, fetchCaByFingerprint } from "../../provisioning/est/client.js";
import { buildCsr } from "../../provisioning/est/csr.js";
import { startEstServer, type RunningEst } from "../../fleet/est/server.js";
import { startSwtpm, type RunningSwtpm } from "../../provisioning/tpm/swtpm.js";
import { EK_CERT_NV } from "../../provisioning/tpm/tpm.js";
import { TpmKeyStore, type TpmSigner } from "../../provisioning/tpm/tpm-keystore.js";

const refused = (code: string) => (e: unknown): boolean => e instanceof GatewayError && e.code === code;

void describe("fleet CA + EST (RFC 7030) + TPM attestation (EK chain, credential activation)", () => {
  let dir: string;
  let est: RunningEst;
  let ca: FleetCa;
  let client: EstClient;
  const tpms: RunningSwtpm[] = [];
  const stores: TpmKeyStore[] = [];

  const tpmWith = async (name: string, vendor: string): Promise<{ store: TpmKeyStore; tpm: RunningSwtpm }> => {
    const tpm = await startSwtpm(join(dir, name), { ekCaDir: join(dir, vendor) });
    tpms.push(tpm);
    const store = new TpmKeyStore(join(dir, name, "keys"), tpm.tcti);
    stores.push(store);
    return { store, tpm };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "otgw-est-"));
    // A first TPM creates the "vendor" CA whose root the fleet trusts.
    const first = await tpmWith("tpm-a", "vendor");
    const roots = join(dir, "vendor-roots.pem");
    writeFileSync(roots, first.tpm.ekCaPem.join(""));
    await initCa(join(dir, "ca"), { name: "otgw test fleet CA", days: 30, certDays: 2, crlDays: 1, serverNames: ["localhost", "127.0.0.1"], ekRoots: [roots] });
    ca = FleetCa.open(join(dir, "ca"));
    est = await startEstServer({ ca, logger: silentLogger() });
    client = new EstClient({ url: est.url, caPem: ca.certPem });
  });

  after(async () => {
    await est?.close();
    for (const s of stores) await s.close();
    for (const t of tpms) await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void it("serves cacerts (certs-only PKCS#7) and bootstraps trust by fingerprint", async () => {
    const [pem] = await client.cacerts();
    assert.ok(pem && new X509Certificate(pem).raw.equals(new X509Certificate(ca.certPem).raw));
    const fp = new X509Certificate(ca.certPem).fingerprint256;
    assert.equal(await fetchCaByFingerprint(est.url, fp), new X509Certificate(ca.certPem).toString());
    await assert.rejects(fetchCaByFingerprint(est.url, "00".repeat(32)), refused("EST_CA_FINGERPRINT"));
  });

  void it("enrolls an attested TPM key: short-lived certificate for the id, inventory records EK, key and certificate", async () => {
    const { store } = await tpmWith("tpm-b", "vendor");
    const signer = (await store.create("gateway")) as TpmSigner;
    const steps: string[] = [];
    const pem = await attestAndEnroll({ store, signer, gatewayId: "gw-1", est: client, op: "simpleenroll", progress: (s) => steps.push(s) });
    const cert = new X509Certificate(pem);
    assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
    assert.match(cert.subject, /CN=gw-1/);
    assert.match(cert.subjectAltName ?? "", /URI:urn:otgw:gateway:gw-1/);
    const lifetimeDays = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    assert.ok(lifetimeDays < 2.1, `lifetime ${lifetimeDays} days follows the CA policy (2 days)`);
    assert.deepEqual(steps, ["ek", "attest", "activate", "csr", "enroll", "verify"]);
    const rec = FleetCa.open(join(dir, "ca")).inventory.get("gw-1");
    assert.ok(rec);
    assert.equal(rec.keys.length, 1);
    assert.equal(rec.certs[0]?.serial, cert.serialNumber.toLowerCase());
    assert.match(rec.ekIssuer, /swtpm-localca/);

    // The same key again, for the same or another id: refused.
    await assert.rejects(attestAndEnroll({ store, signer, gatewayId: "gw-1", est: client, op: "simpleenroll" }), refused("KEY_REUSED"));
    await assert.rejects(attestAndEnroll({ store, signer, gatewayId: "gw-9", est: client, op: "simpleenroll" }), refused("KEY_REUSED"));
  });

  void it("refuses an enrolled id claimed by another TPM (different EK)", async () => {
    const { store } = await tpmWith("tpm-c", "vendor");
    const signer = (await store.create("gateway")) as TpmSigner;
    await assert.rejects(attestAndEnroll({ store, signer, gatewayId: "gw-1", est: client, op: "simpleenroll" }), refused("EK_MISMATCH"));
  });

  void it("refuses a TPM whose EK chain is not from a trusted manufacturer (forged chain)", async () => {
    const { store } = await tpmWith("tpm-forged", "forger");
    const signer = (await store.create("gateway")) as TpmSigner;
    await assert.rejects(attestAndEnroll({ store, signer, gatewayId: "gw-2", est: client, op: "simpleenroll" }), refused("EK_CHAIN_UNTRUSTED"));
  });

  void it("refuses a key that is not in the attested TPM, and a CSR for another key, with distinct errors", async () => {
    const a = await tpmWith("tpm-d", "vendor");
    const b = await tpmWith("tpm-e", "vendor");
    const inB = (await b.store.create("gateway")) as TpmSigner;
    const tpmA = a.store.tpm();
    const ekCert = (await tpmA.readNv(EK_CERT_NV.rsa))!;
    const ekPublic = await tpmA.endorsementPublic();
    // A's EK, B's key: A cannot activate the credential (the key is not loaded in A)...
    const ch = await client.attest({ gatewayId: "gw-3", ekCert, ekPublic, keyPublic: inB.blob.pub });
    await assert.rejects(tpmA.activateCredential(inB.blob, ch.credentialBlob, ch.secret));
    // ...so whatever it sends as the secret is refused.
    const csr = await buildCsr({ commonName: "gw-3", publicKey: inB.publicKey(), challengePassword: `${ch.challengeId}.${"00".repeat(32)}`, sign: (t) => inB.sign(t) });
    await assert.rejects(client.enroll(csr, "simpleenroll"), refused("KEY_NOT_IN_TPM"));

    // A genuine attestation of A's TPM key, but the CSR carries a software key.
    const inA = (await a.store.create("gateway")) as TpmSigner;
    const ch2 = await client.attest({ gatewayId: "gw-3", ekCert, ekPublic, keyPublic: inA.blob.pub });
    const secret = await tpmA.activateCredential(inA.blob, ch2.credentialBlob, ch2.secret);
    const soft = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const csr2 = await buildCsr({ commonName: "gw-3", publicKey: soft.publicKey, challengePassword: `${ch2.challengeId}.${secret.toString("hex")}`, sign: (t) => Promise.resolve(cryptoSign("sha256", t, { key: soft.privateKey, dsaEncoding: "ieee-p1363" })) });
    await assert.rejects(client.enroll(csr2, "simpleenroll"), refused("KEY_MISMATCH"));

    // No attestation at all.
    const csr3 = await buildCsr({ commonName: "gw-3", publicKey: soft.publicKey, sign: (t) => Promise.resolve(cryptoSign("sha256", t, { key: soft.privateKey, dsaEncoding: "ieee-p1363" })) });
    await assert.rejects(client.enroll(csr3, "simpleenroll"), refused("ATTESTATION_REQUIRED"));
  });
});
