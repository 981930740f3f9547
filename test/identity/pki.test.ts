/**
 * The issuing functions' fixture options (fleet/ca/pki.ts): a fixed validity window and serial, a
 * subordinate CA certificate, and the refusals that keep them from being misused.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { PkiError } from "../../kernel/errors.js";
import { createCa, issueCertificate } from "../../fleet/ca/pki.js";

const refused = (code: string) => (e: unknown): boolean => e instanceof PkiError && e.code === code;
const window = { notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2021-06-01T00:00:00Z") };

void describe("PKI issuing options", () => {
  void it("issues over a fixed window with a fixed serial, as a leaf or as a subordinate CA", async () => {
    const ca = await createCa({ commonName: "fixture CA", serialHex: "01", window });
    const caCert = new X509Certificate(ca.certDer);
    assert.equal(caCert.serialNumber, "01");
    assert.equal(new Date(caCert.validFrom).getTime(), window.notBefore.getTime());
    assert.equal(new Date(caCert.validTo).getTime(), window.notAfter.getTime());

    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const leaf = await issueCertificate({ ca, commonName: "gw-1", publicKey, usage: "client", serialHex: "0A01", window });
    const leafCert = new X509Certificate(leaf.certDer);
    assert.equal(leaf.serialHex, "0a01");
    assert.equal(leafCert.serialNumber, "0A01");
    assert.equal(new Date(leafCert.validTo).getTime(), window.notAfter.getTime());
    assert.equal(leafCert.ca, false);
    assert.ok(leafCert.checkIssued(caCert) && leafCert.verify(caCert.publicKey));

    const sub = new X509Certificate((await issueCertificate({ ca, commonName: "sub CA", publicKey, usage: "ca", days: 1 })).certDer);
    assert.equal(sub.ca, true);
    assert.equal(sub.keyUsage, undefined, "no extended key usage on a CA certificate");
    assert.ok(sub.checkIssued(caCert) && sub.verify(caCert.publicKey));
  });

  void it("refuses both days and a window, a window that ends before it starts, no validity, and a serial that is not hex", async () => {
    const ca = await createCa({ commonName: "fixture CA", days: 1 });
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const base = { ca, commonName: "gw-1", publicKey, usage: "client" as const };
    await assert.rejects(issueCertificate({ ...base, days: 1, window }), refused("PKI_VALIDITY"));
    await assert.rejects(issueCertificate({ ...base, window: { notBefore: window.notAfter, notAfter: window.notBefore } }), refused("PKI_VALIDITY"));
    await assert.rejects(issueCertificate(base), refused("PKI_VALIDITY"));
    await assert.rejects(issueCertificate({ ...base, days: 1, serialHex: "12zz" }), refused("PKI_SERIAL"));
    await assert.rejects(createCa({ commonName: "fixture CA", window: { notBefore: window.notAfter, notAfter: window.notAfter } }), refused("PKI_VALIDITY"));
  });
});
