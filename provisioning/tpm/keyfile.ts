import { TpmError } from "../../kernel/errors.js";
import type { TpmKeyBlob } from "./tpm.js";

/**
 * The "TSS2 PRIVATE KEY" PEM file (TCG/IETF draft "ASN.1 Specification for TPM 2.0 Key Files"), the
 * format the tpm2 OpenSSL provider loads for TLS:
 *   TPMKey ::= SEQUENCE { type OID 2.23.133.10.1.3, emptyAuth [0] EXPLICIT BOOLEAN, parent INTEGER,
 *                         pubkey OCTET STRING (TPM2B_PUBLIC), privkey OCTET STRING (TPM2B_PRIVATE) }
 * The private part is wrapped by the TPM's storage key: the file is useless on any other TPM.
 */

const OID_LOADABLE = Buffer.from([0x06, 0x06, 0x67, 0x81, 0x05, 0x0a, 0x01, 0x03]);
const TPM_RH_OWNER = 0x40000001;
const LABEL = "TSS2 PRIVATE KEY";

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), len(body.length), body]);

/** Minimal DER INTEGER body of an unsigned 32-bit value (a leading 0x00 only when the top bit is set). */
function derUint(v: number): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt32BE(v >>> 0, 1);
  let i = 0;
  while (i < 4 && b[i] === 0 && ((b[i + 1] ?? 0) & 0x80) === 0) i++;
  return b.subarray(i);
}

/** DER of the key file with the owner hierarchy's primary as parent (the provider recreates it). */
export function encodeKeyFile(blob: TpmKeyBlob): string {
  const parent = derUint(TPM_RH_OWNER);
  const der = tlv(0x30, Buffer.concat([
    OID_LOADABLE, tlv(0xa0, Buffer.from([0x01, 0x01, 0xff])), tlv(0x02, parent), tlv(0x04, blob.pub), tlv(0x04, blob.priv),
  ]));
  const b64 = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${LABEL}-----\n${b64}-----END ${LABEL}-----\n`;
}

class Der {
  off = 0;
  constructor(private readonly b: Buffer) {}
  next(): { tag: number; body: Buffer } {
    const tag = this.byte();
    let n = this.byte();
    if (n & 0x80) {
      const k = n & 0x7f;
      n = 0;
      for (let i = 0; i < k; i++) n = n * 256 + this.byte();
    }
    if (this.off + n > this.b.length) throw bad("truncated");
    const body = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return { tag, body };
  }
  get done(): boolean { return this.off >= this.b.length; }
  private byte(): number {
    const v = this.b[this.off++];
    if (v === undefined) throw bad("truncated");
    return v;
  }
}

const bad = (why: string): TpmError => new TpmError("TPM_KEYFILE", `not a TSS2 PRIVATE KEY file (${why}); re-create the key with \`otgw provision\``);

/** Parses a TSS2 PRIVATE KEY PEM into the blob ESAPI loads. */
export function decodeKeyFile(pem: string): TpmKeyBlob & { parent: number } {
  const m = new RegExp(`-----BEGIN ${LABEL}-----([\\s\\S]+?)-----END ${LABEL}-----`).exec(pem);
  if (!m?.[1]) throw bad("no PEM block");
  const outer = new Der(Buffer.from(m[1].replace(/\s+/g, ""), "base64")).next();
  if (outer.tag !== 0x30) throw bad("not a SEQUENCE");
  const d = new Der(outer.body);
  const oid = d.next();
  if (oid.tag !== 0x06 || !Buffer.concat([Buffer.from([0x06, oid.body.length]), oid.body]).equals(OID_LOADABLE)) throw bad("not a loadable key");
  let f = d.next();
  if (f.tag === 0xa0) f = d.next();
  if (f.tag !== 0x02) throw bad("no parent");
  const parent = f.body.reduce((acc, v) => acc * 256 + v, 0);
  const pub = d.next();
  const priv = d.next();
  if (pub.tag !== 0x04 || priv.tag !== 0x04) throw bad("no key parts");
  return { parent, pub: Buffer.from(pub.body), priv: Buffer.from(priv.body) };
}
