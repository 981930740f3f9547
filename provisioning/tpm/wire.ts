import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { TpmError } from "../../kernel/errors.js";

/**
 * TPM 2.0 wire structures (big-endian, TPM 2.0 Part 2) built and parsed as bytes: templates for the
 * storage primary, the identity key and the endorsement key, and parsers for what comes back.
 */

export const ALG = { RSA: 0x0001, ECC: 0x0023, SHA256: 0x000b, AES: 0x0006, CFB: 0x0043, NULL: 0x0010, ECDSA: 0x0018 } as const;
export const ATTR = {
  fixedTPM: 0x2, fixedParent: 0x10, sensitiveDataOrigin: 0x20, userWithAuth: 0x40, adminWithPolicy: 0x80,
  noDA: 0x400, restricted: 0x10000, decrypt: 0x20000, sign: 0x40000,
} as const;
const NIST_P256 = 0x0003;

/** TCG EK Credential Profile: PolicySecret(TPM_RH_ENDORSEMENT), the EK's authPolicy. */
export const EK_POLICY = Buffer.from("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa", "hex");

const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
/** A TPM2B: 16-bit length, then the bytes. */
export const tpm2b = (data: Uint8Array): Buffer => Buffer.concat([u16(data.length), data]);

function eccPublic(attrs: number, opts: { policy?: Buffer; symmetric: boolean; unique?: number; ecdsaSha256?: boolean }): Buffer {
  const sym = opts.symmetric ? Buffer.concat([u16(ALG.AES), u16(128), u16(ALG.CFB)]) : u16(ALG.NULL);
  const scheme = opts.ecdsaSha256 ? Buffer.concat([u16(ALG.ECDSA), u16(ALG.SHA256)]) : u16(ALG.NULL);
  const unique = Buffer.alloc(opts.unique ?? 0);
  const area = Buffer.concat([
    u16(ALG.ECC), u16(ALG.SHA256), u32(attrs), tpm2b(opts.policy ?? Buffer.alloc(0)),
    sym, scheme, u16(NIST_P256), u16(ALG.NULL), tpm2b(unique), tpm2b(unique),
  ]);
  return tpm2b(area);
}

/**
 * The storage primary under the owner hierarchy: the template the tpm2 OpenSSL provider uses for a key
 * file whose parent is TPM_RH_OWNER, so both derive the same (deterministic) primary key.
 */
export function primaryTemplate(): Buffer {
  const a = ATTR;
  return eccPublic(a.userWithAuth | a.restricted | a.decrypt | a.noDA | a.fixedTPM | a.fixedParent | a.sensitiveDataOrigin, { symmetric: true });
}

/** The identity key: P-256 signing, never leaves this TPM (fixedTPM, fixedParent), generated inside it. */
export function signingKeyTemplate(): Buffer {
  const a = ATTR;
  return eccPublic(a.userWithAuth | a.sign | a.noDA | a.fixedTPM | a.fixedParent | a.sensitiveDataOrigin, { symmetric: false });
}

/**
 * The attestation key (AK): P-256, *restricted* signing with ECDSA-SHA256 fixed in the key. A restricted
 * key signs only digests the TPM computed itself (a quote, or a hash whose ticket shows it did not start
 * with TPM_GENERATED_VALUE), so nobody can make it sign a forged TPMS_ATTEST; the identity key, which
 * must sign TLS handshakes and CSRs, is unrestricted and therefore never quotes.
 */
export function attestationKeyTemplate(): Buffer {
  const a = ATTR;
  return eccPublic(a.restricted | a.sign | a.fixedTPM | a.fixedParent | a.sensitiveDataOrigin | a.userWithAuth, { symmetric: false, ecdsaSha256: true });
}

/** The attributes an AK must have (and the verifier checks). */
export const AK_ATTRIBUTES = ATTR.restricted | ATTR.sign | ATTR.fixedTPM | ATTR.fixedParent | ATTR.sensitiveDataOrigin;

/**
 * TCG EK Credential Profile template L-1 (RSA 2048), the EK whose certificate sits at NV 0x01c00002 on
 * real TPMs and on swtpm (swtpm 0.7's ECC EK is P-384 with a PolicyOR policy, hence RSA here).
 */
export function ekTemplate(): Buffer {
  const a = ATTR;
  const attrs = a.fixedTPM | a.fixedParent | a.sensitiveDataOrigin | a.adminWithPolicy | a.restricted | a.decrypt;
  return tpm2b(Buffer.concat([
    u16(ALG.RSA), u16(ALG.SHA256), u32(attrs), tpm2b(EK_POLICY),
    u16(ALG.AES), u16(128), u16(ALG.CFB), u16(ALG.NULL), u16(2048), u32(0), tpm2b(Buffer.alloc(256)),
  ]));
}

/** The RSA public key (modulus; exponent 0 means 65537) of an RSA TPM2B_PUBLIC, e.g. the EK. */
export function rsaPublicKeyOf(tpm2bPublic: Uint8Array): KeyObject {
  const r = new Reader(Buffer.from(tpm2bPublic));
  const a = new Reader(r.sized());
  if (a.u16() !== ALG.RSA) throw new TpmError("TPM_KEY_TYPE", "TPM key is not an RSA key");
  a.u16(); a.u32(); a.sized();
  if (a.u16() !== ALG.NULL) { a.u16(); a.u16(); }
  if (a.u16() !== ALG.NULL) a.u16();
  a.u16();
  const e = a.u32() || 65537;
  const n = a.sized();
  const eb = Buffer.alloc(4); eb.writeUInt32BE(e);
  let i = 0;
  while (i < 3 && eb[i] === 0) i++;
  return createPublicKey({ key: { kty: "RSA", n: n.toString("base64url"), e: eb.subarray(i).toString("base64url") }, format: "jwk" });
}

/** The parts of a TPM2B_PUBLIC (ECC) that otgw checks. */
export interface EccPublicArea {
  /** TPMT_PUBLIC bytes (the TPM2B without its size), which the name hashes. */
  area: Buffer;
  nameAlg: number;
  attributes: number;
  x: Buffer;
  y: Buffer;
}

class Reader {
  off = 0;
  constructor(readonly b: Buffer) {}
  u16(): number { this.need(2); const v = this.b.readUInt16BE(this.off); this.off += 2; return v; }
  u32(): number { this.need(4); const v = this.b.readUInt32BE(this.off); this.off += 4; return v; }
  bytes(n: number): Buffer { this.need(n); const v = this.b.subarray(this.off, this.off + n); this.off += n; return Buffer.from(v); }
  sized(): Buffer { return this.bytes(this.u16()); }
  private need(n: number): void {
    if (this.off + n > this.b.length) throw new TpmError("TPM_WIRE", "truncated TPM structure");
  }
}

/** Parses an ECC TPM2B_PUBLIC (wire bytes). */
export function parseEccPublic(tpm2bPublic: Uint8Array): EccPublicArea {
  const r = new Reader(Buffer.from(tpm2bPublic));
  const area = r.sized();
  const a = new Reader(area);
  if (a.u16() !== ALG.ECC) throw new TpmError("TPM_KEY_TYPE", "TPM key is not an ECC key");
  const nameAlg = a.u16();
  const attributes = a.u32();
  a.sized(); // authPolicy
  const symAlg = a.u16();
  if (symAlg !== ALG.NULL) { a.u16(); a.u16(); }
  const scheme = a.u16();
  if (scheme !== ALG.NULL) a.u16();
  if (a.u16() !== NIST_P256) throw new TpmError("TPM_KEY_TYPE", "TPM key is not on curve P-256");
  const kdf = a.u16();
  if (kdf !== ALG.NULL) a.u16();
  const x = a.sized();
  const y = a.sized();
  return { area, nameAlg, attributes, x, y };
}

/** The public key of a TPM ECC public area as a Node KeyObject. */
export function publicKeyOf(p: EccPublicArea): KeyObject {
  const pad = (b: Buffer): Buffer => Buffer.concat([Buffer.alloc(Math.max(0, 32 - b.length)), b]);
  return createPublicKey({ key: { kty: "EC", crv: "P-256", x: pad(p.x).toString("base64url"), y: pad(p.y).toString("base64url") }, format: "jwk" });
}

/** TPM object name: nameAlg || SHA-256(TPMT_PUBLIC). */
export function nameOf(p: EccPublicArea): Buffer {
  if (p.nameAlg !== ALG.SHA256) throw new TpmError("TPM_KEY_TYPE", "TPM key name algorithm is not SHA-256");
  return Buffer.concat([u16(ALG.SHA256), createHash("sha256").update(p.area).digest()]);
}

/** TPMT_SIGNATURE (ECDSA) wire bytes -> IEEE P1363 r||s, 64 bytes. */
export function p1363Of(sig: Buffer): Buffer {
  const r = new Reader(sig);
  if (r.u16() !== ALG.ECDSA) throw new TpmError("TPM_SIGNATURE", "TPM returned a non-ECDSA signature");
  r.u16();
  const pad = (b: Buffer): Buffer => (b.length >= 32 ? b.subarray(b.length - 32) : Buffer.concat([Buffer.alloc(32 - b.length), b]));
  return Buffer.concat([pad(r.sized()), pad(r.sized())]);
}

/** TPMT_SIG_SCHEME ECDSA with SHA-256. */
export const ecdsaSha256Scheme = (): Buffer => Buffer.concat([u16(ALG.ECDSA), u16(ALG.SHA256)]);
/** The null hashcheck ticket that an unrestricted signing key accepts. */
export const nullHashcheck = (): Buffer => Buffer.concat([u16(0x8024), u32(0x40000007), u16(0)]);
/** TPMT_SYM_DEF AES-128-CFB (policy session parameter encryption). */
export const aes128Cfb = (): Buffer => Buffer.concat([u16(ALG.AES), u16(128), u16(ALG.CFB)]);

/** TPML_PCR_SELECTION for one bank (3-byte select: PCRs 0..23). */
export function pcrSelection(pcrs: readonly number[], bank: number = ALG.SHA256): Buffer {
  const select = Buffer.alloc(3);
  for (const p of pcrs) {
    if (!Number.isInteger(p) || p < 0 || p > 23) throw new TpmError("TPM_WIRE", `PCR ${p} is not 0..23`);
    select[p >> 3] = (select[p >> 3] ?? 0) | (1 << (p & 7));
  }
  return Buffer.concat([u32(1), u16(bank), Buffer.from([3]), select]);
}

/** A parsed TPML_PCR_SELECTION: per bank, the PCR numbers in ascending order (the TPM's order). */
export interface PcrBankSelection { bank: number; pcrs: number[] }

function readSelection(r: Reader): PcrBankSelection[] {
  const n = r.u32();
  if (n > 16) throw new TpmError("TPM_WIRE", `PCR selection with ${n} banks`);
  const out: PcrBankSelection[] = [];
  for (let i = 0; i < n; i++) {
    const bank = r.u16();
    const size = r.bytes(1)[0] ?? 0;
    const sel = r.bytes(size);
    const pcrs: number[] = [];
    for (let p = 0; p < size * 8; p++) if (((sel[p >> 3] ?? 0) >> (p & 7)) & 1) pcrs.push(p);
    out.push({ bank, pcrs });
  }
  return out;
}

/** Parses TPML_PCR_SELECTION wire bytes. */
export function parsePcrSelection(b: Uint8Array): PcrBankSelection[] {
  return readSelection(new Reader(Buffer.from(b)));
}

/** TPML_DIGEST wire bytes -> the digests. */
export function parseDigestList(b: Uint8Array): Buffer[] {
  const r = new Reader(Buffer.from(b));
  const n = r.u32();
  return Array.from({ length: n }, () => r.sized());
}

/** TPML_DIGEST_VALUES with one SHA-256 digest (what PCR_Extend takes). */
export function sha256DigestValues(digest: Uint8Array): Buffer {
  if (digest.length !== 32) throw new TpmError("TPM_WIRE", "a SHA-256 digest is 32 bytes");
  return Buffer.concat([u32(1), u16(ALG.SHA256), digest]);
}

export const TPM_GENERATED_VALUE = 0xff544347;
export const TPM_ST_ATTEST_QUOTE = 0x8018;

/** TPMS_ATTEST of a quote (TPM 2.0 Part 2, 10.12.12 and 10.12.1 TPMS_QUOTE_INFO). */
export interface QuoteAttest {
  magic: number;
  type: number;
  /** Name of the key that signed (the AK's name). */
  qualifiedSigner: Buffer;
  /** The caller's qualifyingData: the verifier's nonce. */
  extraData: Buffer;
  clock: bigint;
  resetCount: number;
  restartCount: number;
  safe: boolean;
  firmwareVersion: bigint;
  pcrSelect: PcrBankSelection[];
  /** Digest, with the signing scheme's hash (SHA-256 here), of the selected PCR values concatenated in selection order. */
  pcrDigest: Buffer;
}

/** Parses TPMS_ATTEST bytes (no TPM2B size prefix) of a quote; anything else throws TPM_WIRE. */
export function parseQuoteAttest(b: Uint8Array): QuoteAttest {
  const r = new Reader(Buffer.from(b));
  const magic = r.u32();
  const type = r.u16();
  if (magic !== TPM_GENERATED_VALUE) throw new TpmError("TPM_WIRE", `TPMS_ATTEST magic is 0x${magic.toString(16)}, not TPM_GENERATED_VALUE (0xff544347)`);
  if (type !== TPM_ST_ATTEST_QUOTE) throw new TpmError("TPM_WIRE", `TPMS_ATTEST type is 0x${type.toString(16)}, not TPM_ST_ATTEST_QUOTE (0x8018)`);
  const qualifiedSigner = r.sized();
  const extraData = r.sized();
  const clock = r.bytes(8).readBigUInt64BE();
  const resetCount = r.u32();
  const restartCount = r.u32();
  const safe = (r.bytes(1)[0] ?? 0) === 1;
  const firmwareVersion = r.bytes(8).readBigUInt64BE();
  const pcrSelect = readSelection(r);
  const pcrDigest = r.sized();
  if (r.off !== r.b.length) throw new TpmError("TPM_WIRE", "trailing bytes after TPMS_ATTEST");
  return { magic, type, qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, pcrSelect, pcrDigest };
}
