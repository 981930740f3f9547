/**
 * The attestation key in swtpm (docs/identity.md "Measured boot"): restricted, kept beside the identity
 * key, refuses to sign a digest the TPM did not make, and quotes with the nonce as qualifyingData.
 */
import assert from "node:assert/strict";
import { createHash, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TpmCommandError } from "../../provisioning/tpm/esys.js";
import { quoteBootState } from "../../provisioning/attest/quote.js";
import { startSwtpm, type RunningSwtpm } from "../../provisioning/tpm/swtpm.js";
import { TpmKeyStore } from "../../provisioning/tpm/tpm-keystore.js";
import { AK_ATTRIBUTES, ATTR, p1363Of, parseEccPublic, parseQuoteAttest, publicKeyOf } from "../../provisioning/tpm/wire.js";

void describe("attestation key and quote (swtpm)", () => {
  let dir: string;
  let tpm: RunningSwtpm;
  let store: TpmKeyStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "otgw-ak-"));
    tpm = await startSwtpm(join(dir, "tpm"));
    store = new TpmKeyStore(join(dir, "keys"), tpm.tcti);
  });
  after(async () => {
    await store?.close();
    await tpm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void it("is a restricted fixedTPM ECDSA-SHA256 key in <name>.ak.tss2.pem (0600), created once and then reused", async () => {
    const ak = await store.attestationKey("gateway");
    const area = parseEccPublic(ak.pub);
    assert.equal(area.attributes & AK_ATTRIBUTES, AK_ATTRIBUTES);
    assert.ok(area.attributes & ATTR.restricted);
    assert.equal(statSync(store.attestationKeyFile("gateway")).mode & 0o777, 0o600);
    assert.ok((await store.attestationKey("gateway")).pub.equals(ak.pub), "the second call opens the same key");
    assert.doesNotMatch(readFileSync(store.attestationKeyFile("gateway"), "utf8"), /BEGIN (EC )?PRIVATE KEY/);
  });

  void it("refuses to sign a digest the TPM did not make (so it cannot sign a forged TPMS_ATTEST)", async () => {
    const ak = await store.attestationKey("gateway");
    await assert.rejects(store.tpm().sign(ak, Buffer.from("anything")), (e: unknown) => e instanceof TpmCommandError && e.command === "Esys_Sign");
  });

  void it("quotes PCRs 0,2,4,7,11 with the nonce as extraData; the signature verifies; the read values hash to pcrDigest", async () => {
    const ak = await store.attestationKey("gateway");
    await store.tpm().extendPcr(11, createHash("sha256").update("uki").digest());
    const nonce = createHash("sha256").update("nonce").digest();
    const ev = await quoteBootState({ tpm: store.tpm(), ak, nonce, pcrs: [0, 2, 4, 7, 11], eventLogFile: join(dir, "no-such-log") });
    const attest = Buffer.from(ev.attest, "base64");
    const att = parseQuoteAttest(attest);
    assert.ok(att.extraData.equals(nonce));
    assert.deepEqual(att.pcrSelect[0]?.pcrs, [0, 2, 4, 7, 11]);
    assert.ok(verify("sha256", attest, { key: publicKeyOf(parseEccPublic(ak.pub)), dsaEncoding: "ieee-p1363" }, p1363Of(Buffer.from(ev.signature, "base64"))));
    const concat = Buffer.concat([0, 2, 4, 7, 11].map((p) => Buffer.from(ev.pcrs[String(p)] ?? "", "hex")));
    assert.ok(createHash("sha256").update(concat).digest().equals(att.pcrDigest));
    assert.notEqual(ev.pcrs["11"], "00".repeat(32));
    assert.equal(ev.eventLog, null);
    assert.match(ev.eventLogNote ?? "", /^no event log/);
  });
});
