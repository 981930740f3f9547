import { createHash } from "node:crypto";
import { Esys, ESYS_TR_NONE, ESYS_TR_PASSWORD, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_RH_OWNER } from "./esys.js";
import { aes128Cfb, attestationKeyTemplate, ecdsaSha256Scheme, ekTemplate, nullHashcheck, p1363Of, parseDigestList, parsePcrSelection, pcrSelection, primaryTemplate, sha256DigestValues, signingKeyTemplate, tpm2b } from "./wire.js";

/** A key blob as the TPM returns it: public and (parent-wrapped) private parts, wire bytes. */
export interface TpmKeyBlob {
  /** TPM2B_PUBLIC. */
  pub: Buffer;
  /** TPM2B_PRIVATE, encrypted by the storage primary: useless outside this TPM. */
  priv: Buffer;
}

const EMPTY = (): Buffer => Buffer.alloc(4096);
const TPM_SE_POLICY = 1;
const TPM_ALG_SHA256 = 0x000b;
/** What TPM2_Quote returns, plus the PCR values read right after it (TPM2_PCR_Read). */
export interface TpmQuote {
  /** TPMS_ATTEST bytes (the TPM2B_ATTEST without its size): what the AK signed. */
  attest: Buffer;
  /** TPMT_SIGNATURE wire bytes (ECDSA-SHA256 by the AK). */
  signature: Buffer;
  /** The sha256 bank's values of the quoted PCRs, in ascending PCR order (the selection's order). */
  pcrs: Array<{ pcr: number; value: Buffer }>;
}

/** TCG EK Credential Profile NV indices of the EK certificates (RSA 2048, ECC NIST P-256). */
export const EK_CERT_NV = { rsa: 0x01c00002, ecc: 0x01c0000a } as const;

/**
 * The TPM operations otgw needs, each a short ESAPI sequence that flushes every transient object it
 * loads before returning: without a resource manager (swtpm, raw /dev/tpm0) the TPM holds only ~3
 * objects (0x902), and the tpm2 OpenSSL provider in the same process needs slots for TLS.
 */
export class Tpm {
  private constructor(readonly esys: Esys) {}

  static open(tcti: string): Tpm {
    return new Tpm(Esys.open(tcti));
  }

  close(): Promise<void> {
    return this.esys.close();
  }

  private async primary(): Promise<number> {
    const h = [0];
    await this.esys.call("Esys_CreatePrimary", ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
      EMPTY(), this.esys.toNative("TPM2B_PUBLIC", primaryTemplate()), EMPTY(), EMPTY(), h, null, null, null, null);
    return h[0] ?? 0;
  }

  private async flush(handle: number): Promise<void> {
    await this.esys.call("Esys_FlushContext", handle);
  }

  /** Runs `use` with the blob loaded under the storage primary; flushes both. */
  private async withKey<T>(blob: TpmKeyBlob, use: (handle: number) => Promise<T>): Promise<T> {
    const parent = await this.primary();
    const h = [0];
    try {
      await this.esys.call("Esys_Load", parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
        this.esys.toNative("TPM2B_PRIVATE", blob.priv), this.esys.toNative("TPM2B_PUBLIC", blob.pub), h);
    } finally {
      await this.flush(parent);
    }
    try {
      return await use(h[0] ?? 0);
    } finally {
      await this.flush(h[0] ?? 0);
    }
  }

  /** Creates a new P-256 signing key inside the TPM (fixedTPM, fixedParent) and returns its blob. */
  createSigningKey(): Promise<TpmKeyBlob> {
    return this.createKey(signingKeyTemplate());
  }

  /** Creates a new attestation key (restricted P-256 ECDSA-SHA256 signing, fixedTPM/fixedParent). */
  createAttestationKey(): Promise<TpmKeyBlob> {
    return this.createKey(attestationKeyTemplate());
  }

  private createKey(template: Buffer): Promise<TpmKeyBlob> {
    return this.esys.run(async () => {
      const parent = await this.primary();
      const priv: unknown[] = [null];
      const pub: unknown[] = [null];
      try {
        await this.esys.call("Esys_Create", parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
          EMPTY(), this.esys.toNative("TPM2B_PUBLIC", template), EMPTY(), EMPTY(), priv, pub, null, null, null);
      } finally {
        await this.flush(parent);
      }
      return { priv: this.esys.fromNative("TPM2B_PRIVATE", priv[0]), pub: this.esys.fromNative("TPM2B_PUBLIC", pub[0]) };
    });
  }

  /** Loads and flushes `blob`: proves the key file belongs to this TPM. */
  verifyLoadable(blob: TpmKeyBlob): Promise<void> {
    return this.esys.run(() => this.withKey(blob, () => Promise.resolve()));
  }

  /** ECDSA P-256 over SHA-256(data), as P1363 r||s. */
  sign(blob: TpmKeyBlob, data: Uint8Array): Promise<Buffer> {
    const digest = createHash("sha256").update(data).digest();
    return this.esys.run(() => this.withKey(blob, async (key) => {
      const sig: unknown[] = [null];
      await this.esys.call("Esys_Sign", key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
        this.esys.toNative("TPM2B_DIGEST", tpm2b(digest)), this.esys.toNative("TPMT_SIG_SCHEME", ecdsaSha256Scheme()),
        this.esys.toNative("TPMT_TK_HASHCHECK", nullHashcheck()), sig);
      return p1363Of(this.esys.fromNative("TPMT_SIGNATURE", sig[0]));
    }));
  }

  /**
   * TPM2_Quote by the AK `ak` over `pcrs` of the sha256 bank with `nonce` as qualifyingData, then
   * TPM2_PCR_Read of the same PCRs. The values read are not signed themselves: the verifier checks that
   * their hash is the signed pcrDigest (a PCR extended between the two calls fails that check).
   */
  quote(ak: TpmKeyBlob, pcrs: readonly number[], nonce: Uint8Array): Promise<TpmQuote> {
    const selection = pcrSelection(pcrs);
    return this.esys.run(async () => {
      const { attest, signature } = await this.withKey(ak, async (key) => {
        const quoted: unknown[] = [null];
        const sig: unknown[] = [null];
        await this.esys.call("Esys_Quote", key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
          this.esys.toNative("TPM2B_DATA", tpm2b(nonce)), this.esys.toNative("TPMT_SIG_SCHEME", ecdsaSha256Scheme()),
          this.esys.toNative("TPML_PCR_SELECTION", selection), quoted, sig);
        return { attest: this.esys.fromNative("TPM2B_ATTEST", quoted[0]).subarray(2), signature: this.esys.fromNative("TPMT_SIGNATURE", sig[0]) };
      });
      return { attest: Buffer.from(attest), signature, pcrs: await this.pcrReadLocked(selection) };
    });
  }

  /** The sha256 bank's values of `pcrs` (ascending order). */
  readPcrs(pcrs: readonly number[]): Promise<Array<{ pcr: number; value: Buffer }>> {
    return this.esys.run(() => this.pcrReadLocked(pcrSelection(pcrs)));
  }

  /** PCR_Read returns at most 8 digests per call: read until every selected PCR is in. */
  private async pcrReadLocked(selection: Buffer): Promise<Array<{ pcr: number; value: Buffer }>> {
    const want = parsePcrSelection(selection)[0]?.pcrs ?? [];
    const out: Array<{ pcr: number; value: Buffer }> = [];
    while (out.length < want.length) {
      const rest = want.filter((p) => !out.some((o) => o.pcr === p));
      const counter = [0];
      const selOut: unknown[] = [null];
      const values: unknown[] = [null];
      await this.esys.call("Esys_PCR_Read", ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
        this.esys.toNative("TPML_PCR_SELECTION", pcrSelection(rest)), counter, selOut, values);
      const got = parsePcrSelection(this.esys.fromNative("TPML_PCR_SELECTION", selOut[0]))[0]?.pcrs ?? [];
      const digests = parseDigestList(this.esys.fromNative("TPML_DIGEST", values[0]));
      if (got.length === 0 || digests.length === 0) break;
      got.slice(0, digests.length).forEach((pcr, i) => out.push({ pcr, value: digests[i] ?? Buffer.alloc(0) }));
    }
    return out.sort((a, b) => a.pcr - b.pcr);
  }

  /** TPM2_PCR_Extend of the sha256 bank of `pcr` with `digest` (what measured boot does; tests simulate it). */
  extendPcr(pcr: number, digest: Uint8Array): Promise<void> {
    return this.esys.run(() => this.esys.call("Esys_PCR_Extend", pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
      this.esys.toNative("TPML_DIGEST_VALUES", sha256DigestValues(digest))));
  }

  /** The endorsement key's public area (TPM2B_PUBLIC), recreated from the standard RSA template. */
  endorsementPublic(): Promise<Buffer> {
    return this.esys.run(async () => {
      const h = [0];
      const pub: unknown[] = [null];
      await this.esys.call("Esys_CreatePrimary", ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
        EMPTY(), this.esys.toNative("TPM2B_PUBLIC", ekTemplate()), EMPTY(), EMPTY(), h, pub, null, null, null);
      await this.flush(h[0] ?? 0);
      return this.esys.fromNative("TPM2B_PUBLIC", pub[0]);
    });
  }

  /**
   * TPM2_ActivateCredential: the EK decrypts a credential that a verifier bound to the name of `blob`'s
   * key; it succeeds only in the TPM that holds both the EK and that key.
   */
  activateCredential(blob: TpmKeyBlob, credentialBlob: Buffer, secret: Buffer): Promise<Buffer> {
    return this.esys.run(async () => {
      const ek = [0];
      await this.esys.call("Esys_CreatePrimary", ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
        EMPTY(), this.esys.toNative("TPM2B_PUBLIC", ekTemplate()), EMPTY(), EMPTY(), ek, null, null, null, null);
      const ekHandle = ek[0] ?? 0;
      try {
        return await this.withKey(blob, async (key) => {
          const session = [0];
          await this.esys.call("Esys_StartAuthSession", ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
            null, TPM_SE_POLICY, this.esys.toNative("TPMT_SYM_DEF", aes128Cfb()), TPM_ALG_SHA256, session);
          const s = session[0] ?? 0;
          try {
            await this.esys.call("Esys_PolicySecret", ESYS_TR_RH_ENDORSEMENT, s, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
              null, null, null, 0, null, null);
            const out: unknown[] = [null];
            await this.esys.call("Esys_ActivateCredential", key, ekHandle, ESYS_TR_PASSWORD, s, ESYS_TR_NONE,
              this.esys.toNative("TPM2B_ID_OBJECT", credentialBlob), this.esys.toNative("TPM2B_ENCRYPTED_SECRET", secret), out);
            const digest = this.esys.fromNative("TPM2B_DIGEST", out[0]);
            return digest.subarray(2);
          } finally {
            await this.flush(s).catch(() => undefined);
          }
        });
      } finally {
        await this.flush(ekHandle);
      }
    });
  }

  /** Reads an NV index in full (e.g. the EK certificate), or null if it is not defined. */
  readNv(index: number): Promise<Buffer | null> {
    return this.esys.run(async () => {
      const tr = [0];
      try {
        await this.esys.call("Esys_TR_FromTPMPublic", index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
      } catch {
        return null;
      }
      const nvIndex = tr[0] ?? 0;
      try {
        const pubOut: unknown[] = [null];
        await this.esys.call("Esys_NV_ReadPublic", nvIndex, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, pubOut, null);
        const nvPub = this.esys.fromNative("TPM2B_NV_PUBLIC", pubOut[0]);
        const size = nvPub.readUInt16BE(nvPub.length - 2);
        const parts: Buffer[] = [];
        for (let off = 0; off < size; off += 512) {
          const out: unknown[] = [null];
          await this.esys.call("Esys_NV_Read", nvIndex, nvIndex, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, Math.min(512, size - off), off, out);
          parts.push(this.esys.fromNative("TPM2B_MAX_NV_BUFFER", out[0]).subarray(2));
        }
        return Buffer.concat(parts);
      } finally {
        this.esys.closeTr(nvIndex);
      }
    });
  }
}
