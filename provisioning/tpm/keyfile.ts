import { AsnConvert, AsnIntegerBigIntConverter, AsnProp, AsnPropTypes } from "@peculiar/asn1-schema";
import { TpmError } from "../../kernel/errors.js";
import type { TpmKeyBlob } from "./tpm.js";

/**
 * The "TSS2 PRIVATE KEY" PEM file (TCG/IETF draft "ASN.1 Specification for TPM 2.0 Key Files"), the
 * format the tpm2 OpenSSL provider loads for TLS. The private part is wrapped by the TPM's storage
 * key: the file is useless on any other TPM.
 */

const OID_LOADABLE_KEY = "2.23.133.10.1.3";
const TPM_RH_OWNER = 0x40000001;
const LABEL = "TSS2 PRIVATE KEY";

/**
 * The part of TPMKey this gateway writes and reads:
 *   TPMKey ::= SEQUENCE { type OID, emptyAuth [0] EXPLICIT BOOLEAN OPTIONAL, parent INTEGER,
 *                         pubkey OCTET STRING (TPM2B_PUBLIC), privkey OCTET STRING (TPM2B_PRIVATE) }
 * The draft's policy, secret, authPolicy, description and rsaParent fields are left out on purpose: a
 * key that needs a policy session cannot be used by this gateway, so such a file must not parse.
 */
class TpmKey {
  @AsnProp({ type: AsnPropTypes.ObjectIdentifier })
  type = OID_LOADABLE_KEY;

  @AsnProp({ type: AsnPropTypes.Boolean, context: 0, optional: true })
  emptyAuth?: boolean;

  // A handle is a u32; as a bigint so that one written with the top bit set (0x81…: a persistent
  // handle) and no padding byte still reads back as the same handle, not as a negative number.
  @AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerBigIntConverter })
  parent = 0n;

  @AsnProp({ type: AsnPropTypes.OctetString })
  pubkey = new ArrayBuffer(0);

  @AsnProp({ type: AsnPropTypes.OctetString })
  privkey = new ArrayBuffer(0);
}

/** PEM of the key file with the owner hierarchy's primary as parent (the provider recreates it). */
export function encodeKeyFile(blob: TpmKeyBlob): string {
  const key = new TpmKey();
  key.emptyAuth = true;
  key.parent = BigInt(TPM_RH_OWNER);
  key.pubkey = new Uint8Array(blob.pub).buffer;
  key.privkey = new Uint8Array(blob.priv).buffer;
  const b64 = Buffer.from(AsnConvert.serialize(key)).toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${LABEL}-----\n${b64}-----END ${LABEL}-----\n`;
}

const bad = (why: string): TpmError => new TpmError("TPM_KEYFILE", `not a TSS2 PRIVATE KEY file (${why}); re-create the key with \`otgw provision\``);

/** Parses a TSS2 PRIVATE KEY PEM into the blob ESAPI loads. */
export function decodeKeyFile(pem: string): TpmKeyBlob & { parent: number } {
  const m = new RegExp(`-----BEGIN ${LABEL}-----([\\s\\S]+?)-----END ${LABEL}-----`).exec(pem);
  if (!m?.[1]) throw bad("no PEM block");
  let key: TpmKey;
  try {
    key = AsnConvert.parse(Buffer.from(m[1].replace(/\s+/g, ""), "base64"), TpmKey);
  } catch (err) {
    throw bad(`does not parse as TPMKey: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (key.type !== OID_LOADABLE_KEY) throw bad(`type ${key.type} is not a loadable key`);
  return { parent: Number(BigInt.asUintN(32, key.parent)), pub: Buffer.from(key.pubkey), priv: Buffer.from(key.privkey) };
}
