/**
 * The quote verifier (fleet/attest/quote.ts) on quotes recorded from swtpm (test/fixtures/quotes,
 * scripts/record-quotes.ts) and mutated copies of them: each proof step refuses with its own code.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { AttestError } from "../../kernel/errors.js";
import { repoRoot } from "../../kernel/paths.js";
import { parseBootPolicy, BOOT_POLICY_SCHEMA, type BootPolicy } from "../../fleet/attest/boot-policy.js";
import { QuoteVerifier, type QuoteMode } from "../../fleet/attest/quote.js";
import type { QuoteEvidence } from "../../provisioning/attest/protocol.js";
import { parseQuoteAttest, signingKeyTemplate } from "../../provisioning/tpm/wire.js";

interface Recorded { nonce: string; evidence: QuoteEvidence }
interface Fixture { akPublic: string; quotes: Recorded[]; otherTpm: { akPublic: string; quote: Recorded } }

const fx = JSON.parse(readFileSync(join(repoRoot(), "test", "fixtures", "quotes", "swtpm-quotes.json"), "utf8")) as Fixture;
const ak = Buffer.from(fx.akPublic, "base64");
const q1 = fx.quotes[0] as Recorded;
const q2 = fx.quotes[1] as Recorded;

/** A policy that allows exactly the recorded PCR values, except `change` (pcr -> other value). */
function policyOf(pcrs: Record<string, string>, version: string, change: Record<string, string> = {}): BootPolicy {
  const text = JSON.stringify({ schema: BOOT_POLICY_SCHEMA, image: { name: "otgw-amd64", version }, bank: "sha256", pcrs: Object.fromEntries(Object.entries(pcrs).map(([k, v]) => [k, [change[k] ?? v]])) });
  return parseBootPolicy(text, `${version}.json`);
}

/** A verifier whose next nonces are `nonces` (the recorded ones), with policies and a settable clock. */
function verifier(nonces: string[], policies: BootPolicy[], clock = { t: 1_000_000 }): QuoteVerifier {
  const queue = [...nonces];
  return new QuoteVerifier({ policies: () => policies, now: () => clock.t, random: () => Buffer.from(queue.shift() ?? "00".repeat(32), "hex") });
}

const refused = (code: string, re?: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof AttestError, `expected AttestError ${code}, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
};
const clone = (e: QuoteEvidence): QuoteEvidence => JSON.parse(JSON.stringify(e)) as QuoteEvidence;
const verify = (v: QuoteVerifier, ev: QuoteEvidence | undefined, mode: QuoteMode = "required", gw = "gw-1", akPub: Buffer | undefined = ak) => v.verify(gw, ev, akPub, mode);

void describe("quote verifier on recorded swtpm quotes", () => {
  void it("the recorded quote is a TPMS_ATTEST quote over PCRs 0,2,4,7,11 carrying the nonce", () => {
    const att = parseQuoteAttest(Buffer.from(q1.evidence.attest, "base64"));
    assert.equal(att.magic, 0xff544347);
    assert.equal(att.type, 0x8018);
    assert.equal(att.extraData.toString("hex"), q1.nonce);
    assert.deepEqual(att.pcrSelect, [{ bank: 0x000b, pcrs: [0, 2, 4, 7, 11] }]);
    assert.equal(q1.evidence.eventLog, null);
    assert.match(q1.evidence.eventLogNote ?? "", /no event log/);
  });

  void it("a genuine quote with a fresh nonce matches the policy made from its values", () => {
    const v = verifier([q1.nonce], [policyOf(q1.evidence.pcrs, "1.0.0")]);
    v.issue("gw-1");
    const verdict = verify(v, q1.evidence);
    assert.equal(verdict.status, "match");
    assert.equal(verdict.policy?.version, "1.0.0");
    assert.equal(verdict.eventLog, "no event log");
  });

  void it("several active policies: a match with any one of them passes", () => {
    const v = verifier([q1.nonce], [policyOf(q1.evidence.pcrs, "0.9.0", { 11: "ab".repeat(32) }), policyOf(q1.evidence.pcrs, "1.0.0")]);
    v.issue("gw-1");
    assert.equal(verify(v, q1.evidence).policy?.version, "1.0.0");
  });

  void it("a flipped signature byte is QUOTE_SIGNATURE", () => {
    const v = verifier([q1.nonce], [policyOf(q1.evidence.pcrs, "1.0.0")]);
    v.issue("gw-1");
    const ev = clone(q1.evidence);
    const sig = Buffer.from(ev.signature, "base64");
    sig[sig.length - 5] = (sig[sig.length - 5] ?? 0) ^ 0x01;
    ev.signature = sig.toString("base64");
    assert.throws(() => verify(v, ev), refused("QUOTE_SIGNATURE"));
  });

  void it("a quote for another nonce, a replay, an expired nonce and another gateway's nonce are QUOTE_NONCE", () => {
    const other = verifier(["11".repeat(32)], [policyOf(q1.evidence.pcrs, "1.0.0")]);
    other.issue("gw-1");
    assert.throws(() => verify(other, q1.evidence), refused("QUOTE_NONCE", /replayed/));

    const v = verifier([q1.nonce], [policyOf(q1.evidence.pcrs, "1.0.0")]);
    v.issue("gw-1");
    assert.equal(verify(v, q1.evidence).status, "match");
    assert.throws(() => verify(v, q1.evidence), refused("QUOTE_NONCE"), "the same quote twice: the nonce is used up");

    const clock = { t: 1_000_000 };
    const late = verifier([q2.nonce], [policyOf(q2.evidence.pcrs, "1.0.0")], clock);
    late.issue("gw-1");
    clock.t += 5 * 60_000 + 1;
    assert.throws(() => verify(late, q2.evidence), refused("QUOTE_NONCE"));

    const forOther = verifier([q2.nonce], [policyOf(q2.evidence.pcrs, "1.0.0")]);
    forOther.issue("gw-2");
    assert.throws(() => verify(forOther, q2.evidence, "required", "gw-1"), refused("QUOTE_NONCE"));
  });

  void it("an altered PCR value, or one missing, is QUOTE_PCR_DIGEST", () => {
    const v = verifier([q1.nonce, q2.nonce], [policyOf(q1.evidence.pcrs, "1.0.0")]);
    v.issue("gw-1");
    v.issue("gw-1");
    const ev = clone(q1.evidence);
    ev.pcrs["11"] = "00".repeat(32);
    assert.throws(() => verify(v, ev), refused("QUOTE_PCR_DIGEST", /not the ones the TPM quoted/));
    const missing = clone(q2.evidence);
    delete missing.pcrs["7"];
    assert.throws(() => verify(v, missing), refused("QUOTE_PCR_DIGEST", /0,2,4,7,11/));
  });

  void it("another TPM's AK: its quote is QUOTE_AK_UNBOUND, and passed off under this AK, QUOTE_SIGNATURE", () => {
    const o = fx.otherTpm.quote;
    const v = verifier([o.nonce, o.nonce], [policyOf(o.evidence.pcrs, "1.0.0")]);
    v.issue("gw-1");
    assert.throws(() => verify(v, o.evidence), refused("QUOTE_AK_UNBOUND"));
    const posing = { ...clone(o.evidence), akPublic: fx.akPublic };
    assert.throws(() => verify(v, posing), refused("QUOTE_SIGNATURE"));
  });

  void it("an unrestricted key as AK is QUOTE_AK_UNBOUND (it could sign a forged TPMS_ATTEST)", () => {
    const unrestricted = signingKeyTemplate();
    const v = verifier([q1.nonce], []);
    v.issue("gw-1");
    assert.throws(() => verify(v, { ...clone(q1.evidence), akPublic: unrestricted.toString("base64") }, "required", "gw-1", unrestricted), refused("QUOTE_AK_UNBOUND", /restricted/));
  });

  void it("a TPMS_ATTEST that is not a quote is QUOTE_MALFORMED", () => {
    const v = verifier([q1.nonce], []);
    const ev = clone(q1.evidence);
    const att = Buffer.from(ev.attest, "base64");
    att.writeUInt16BE(0x8017, 4); // TPM_ST_ATTEST_CERTIFY
    ev.attest = att.toString("base64");
    assert.throws(() => verify(v, ev), refused("QUOTE_MALFORMED", /TPM_ST_ATTEST_QUOTE/));
  });

  void it("a boot state no policy allows is BOOT_STATE_MISMATCH naming the PCR and the closest policy; a development CA reports it", () => {
    const policies = [policyOf(q1.evidence.pcrs, "0.8.0", { 4: "cd".repeat(32), 11: "ab".repeat(32) }), policyOf(q1.evidence.pcrs, "0.9.0", { 11: "ab".repeat(32) })];
    const v = verifier([q1.nonce, q2.nonce], policies);
    v.issue("gw-1");
    assert.throws(() => verify(v, q1.evidence), refused("BOOT_STATE_MISMATCH", /PCR 11 differs from the closest boot policy otgw-amd64 0\.9\.0 \(0\.9\.0\.json\).*boot-policies/));
    v.issue("gw-1");
    const dev = verify(v, q2.evidence, "report");
    assert.equal(dev.status, "mismatch");
    assert.deepEqual(dev.differ, [11]);
  });

  void it("production without a policy is BOOT_POLICY_MISSING, without a quote QUOTE_REQUIRED; development accepts both", () => {
    const v = verifier([q1.nonce, q2.nonce], []);
    v.issue("gw-1");
    assert.throws(() => verify(v, q1.evidence), refused("BOOT_POLICY_MISSING", /boot-policies/));
    v.issue("gw-1");
    assert.equal(verify(v, q2.evidence, "report").status, "no-policy");
    assert.throws(() => verify(v, undefined), refused("QUOTE_REQUIRED"));
    assert.equal(verify(v, undefined, "report").status, "no-quote");
  });

  void it("the PCRs to quote are the active policies' (default 0,2,4,7,11 without one)", () => {
    assert.deepEqual(verifier([], []).issue("gw-1").pcrs, [0, 2, 4, 7, 11]);
    assert.deepEqual(verifier([], [parseBootPolicy(JSON.stringify({ schema: BOOT_POLICY_SCHEMA, image: { name: "i", version: "1" }, bank: "sha256", pcrs: { 11: ["aa".repeat(32)], 7: ["bb".repeat(32)] } }), "p.json")]).issue("gw-1").pcrs, [7, 11]);
  });

  void it("a policy file that breaks the format is BOOT_POLICY_INVALID naming the file and the field", () => {
    const base = { schema: BOOT_POLICY_SCHEMA, image: { name: "i", version: "1" }, bank: "sha256", pcrs: { 7: ["bb".repeat(32)] } };
    assert.throws(() => parseBootPolicy("{", "a.json"), refused("BOOT_POLICY_INVALID", /a\.json: not JSON/));
    assert.throws(() => parseBootPolicy(JSON.stringify({ ...base, schema: "x" }), "b.json"), refused("BOOT_POLICY_INVALID", /b\.json: schema/));
    assert.throws(() => parseBootPolicy(JSON.stringify({ ...base, pcrs: { 24: ["bb".repeat(32)] } }), "c.json"), refused("BOOT_POLICY_INVALID", /pcrs\."24"/));
    assert.throws(() => parseBootPolicy(JSON.stringify({ ...base, pcrs: { 7: ["bb"] } }), "d.json"), refused("BOOT_POLICY_INVALID", /pcrs\."7"/));
  });
});
