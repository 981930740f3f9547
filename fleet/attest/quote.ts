import { createHash, randomBytes, timingSafeEqual, verify } from "node:crypto";
import { AttestError, GatewayError } from "../../kernel/errors.js";
import type { BootVerdict, QuoteChallenge, QuoteEvidence } from "../../provisioning/attest/protocol.js";

export type { BootVerdict };
import { DEFAULT_QUOTE_PCRS } from "../../provisioning/attest/protocol.js";
import { AK_ATTRIBUTES, ALG, p1363Of, parseEccPublic, parseQuoteAttest, publicKeyOf, type QuoteAttest } from "../../provisioning/tpm/wire.js";
import { comparePolicies, policyPcrs, type BootPolicy } from "./boot-policy.js";

/**
 * The fleet's check of a gateway's boot state (docs/identity.md "Measured boot"):
 *  1. TPMS_ATTEST parses as a quote (magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE),
 *  2. its ECDSA-SHA256 signature verifies with the AK, a restricted key bound to the EK: a restricted
 *     key never signs a digest of data starting with TPM_GENERATED_VALUE that the TPM did not make,
 *  3. extraData is a nonce this verifier issued to this gateway, unused and unexpired (then used up),
 *  4. pcrDigest = SHA-256 of the reported PCR values concatenated in selection order,
 *  5. the values match an active boot policy (else the PCRs that differ from the closest one).
 * Steps 1–4 are proof; 5 is the fleet's judgement, which `mode` makes binding or advisory.
 */

/** `required`: a quote must come and match a policy (production). `report`: checked and reported, a
 * missing quote, a missing policy or a mismatch do not refuse (development); a forged quote still does. */
export type QuoteMode = "required" | "report";


interface Nonce { gatewayId: string; expires: number }

const sha256 = (b: Uint8Array): Buffer => createHash("sha256").update(b).digest();

/** Issues nonces and verifies quotes against boot policies. */
export class QuoteVerifier {
  private readonly nonces = new Map<string, Nonce>();

  constructor(private readonly o: { policies: () => BootPolicy[]; ttlMs?: number; now?: () => number; random?: (n: number) => Buffer }) {}

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** A single-use nonce for `gatewayId`, and the PCRs to quote (the active policies', else the default set). */
  issue(gatewayId: string): QuoteChallenge {
    const now = this.now();
    for (const [k, v] of this.nonces) if (v.expires < now) this.nonces.delete(k);
    const nonce = (this.o.random ?? randomBytes)(32);
    this.nonces.set(nonce.toString("hex"), { gatewayId, expires: now + (this.o.ttlMs ?? 5 * 60_000) });
    const pcrs = policyPcrs(this.o.policies());
    return { nonce, pcrs: pcrs.length ? pcrs : [...DEFAULT_QUOTE_PCRS] };
  }

  /**
   * Verifies `ev` from `gatewayId` with `akPublic` (TPM2B_PUBLIC of the AK the caller knows to be bound
   * to this gateway's EK). Throws the reason code on a failed proof, and on a policy failure when
   * `mode` is "required"; otherwise returns the verdict.
   */
  verify(gatewayId: string, ev: QuoteEvidence | undefined, akPublic: Buffer | undefined, mode: QuoteMode): BootVerdict {
    if (!ev) {
      if (mode === "required") throw new AttestError("QUOTE_REQUIRED", "this fleet requires a TPM quote of the boot state with every enrollment and renewal: update otgw on the gateway to a version that sends one; a gateway enrolled before quotes needs `otgw identity rotate` once (it binds an attestation key)");
      return { status: "no-quote", pcrs: {}, eventLog: "no event log", summary: "no quote sent (development CA: accepted)" };
    }
    if (!akPublic || !akPublic.equals(Buffer.from(ev.akPublic ?? "", "base64"))) {
      throw new AttestError("QUOTE_AK_UNBOUND", "the quote's attestation key is not the one bound to this gateway's EK: attest again (`otgw identity rotate`, or `otgw provision` for a new gateway)");
    }
    let ak: ReturnType<typeof parseEccPublic>;
    let att: QuoteAttest;
    const attest = Buffer.from(ev.attest ?? "", "base64");
    try {
      ak = parseEccPublic(akPublic);
      att = parseQuoteAttest(attest);
    } catch (err) {
      throw new AttestError("QUOTE_MALFORMED", `the quote does not parse: ${err instanceof GatewayError ? err.message : String(err)}`);
    }
    if ((ak.attributes & AK_ATTRIBUTES) !== AK_ATTRIBUTES) {
      throw new AttestError("QUOTE_AK_UNBOUND", "the attestation key is not a restricted fixedTPM signing key: an unrestricted key could sign a forged quote");
    }
    let sigOk = false;
    try {
      sigOk = verify("sha256", attest, { key: publicKeyOf(ak), dsaEncoding: "ieee-p1363" }, p1363Of(Buffer.from(ev.signature ?? "", "base64")));
    } catch { /* a signature that does not parse does not verify */ }
    // qualifiedSigner is the AK's *qualified* name (it hashes in the parent's), so the signature is the check.
    if (!sigOk) throw new AttestError("QUOTE_SIGNATURE", "the quote's signature does not verify with this gateway's attestation key: the quote was not made by its TPM");
    const key = att.extraData.toString("hex");
    const n = this.nonces.get(key);
    this.nonces.delete(key);
    if (!n || n.gatewayId !== gatewayId || n.expires < this.now()) {
      throw new AttestError("QUOTE_NONCE", "the quote does not answer a fresh nonce issued to this gateway (replayed, used, or older than 5 minutes): ask for a new nonce and quote again");
    }
    const sel = att.pcrSelect.filter((s) => s.pcrs.length > 0);
    const first = sel[0];
    if (sel.length !== 1 || !first || first.bank !== ALG.SHA256 || ev.bank !== "sha256") throw new AttestError("QUOTE_MALFORMED", "the quote must select PCRs of the sha256 bank only");
    const values = first.pcrs.map((p) => ev.pcrs?.[String(p)]);
    if (values.some((v) => v === undefined || !/^[0-9a-fA-F]{64}$/.test(v)) || Object.keys(ev.pcrs ?? {}).length !== first.pcrs.length) {
      throw new AttestError("QUOTE_PCR_DIGEST", `the reported PCR values are not exactly the quoted PCRs ${first.pcrs.join(",")}`);
    }
    const digest = sha256(Buffer.concat(values.map((v) => Buffer.from(v ?? "", "hex"))));
    if (digest.length !== att.pcrDigest.length || !timingSafeEqual(digest, att.pcrDigest)) {
      throw new AttestError("QUOTE_PCR_DIGEST", "the reported PCR values are not the ones the TPM quoted (a PCR changed between quote and read, or the values were altered): quote again");
    }
    const pcrs = Object.fromEntries(first.pcrs.map((p) => [String(p), (ev.pcrs[String(p)] ?? "").toLowerCase()]));
    const base = { pcrs, akSha256: sha256(akPublic).toString("hex"), eventLog: ev.eventLog ? "present" as const : "no event log" as const };
    const policies = this.o.policies();
    if (policies.length === 0) {
      if (mode === "required") throw new AttestError("BOOT_POLICY_MISSING", "quotes are required but this fleet CA has no active boot policy: copy the released image's boot policy (docs/boot-policy.md) into the CA's boot-policies/ directory");
      return { ...base, status: "no-policy", summary: "quote verified; no boot policy to compare with (development CA)" };
    }
    const diffs = comparePolicies(pcrs, policies).sort((a, b) => a.differ.length - b.differ.length);
    const best = diffs[0];
    if (!best) throw new AttestError("BOOT_POLICY_MISSING", "no boot policy");
    const ref = { image: best.policy.image.name, version: best.policy.image.version, file: best.policy.file };
    if (best.differ.length === 0) return { ...base, status: "match", policy: ref, summary: `boot state matches ${ref.image} ${ref.version}` };
    const names = best.differ.map((d) => d.pcr);
    const summary = `PCR ${names.join(", ")} ${names.length === 1 ? "differs" : "differ"} from the closest boot policy ${ref.image} ${ref.version} (${ref.file})`;
    if (mode === "required") {
      throw new AttestError("BOOT_STATE_MISMATCH", `${summary}: the gateway booted software the fleet did not release (reinstall the released image), or, if this image was released, add its boot policy to the CA's boot-policies/ (docs/boot-policy.md)`);
    }
    return { ...base, status: "mismatch", policy: ref, differ: names, summary: `${summary} (development CA: accepted)` };
  }
}
