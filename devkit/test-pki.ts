import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { createCa, gatewayUri, issueCertificate, type CaBundle } from "../fleet/ca/pki.js";
import { SoftwareSigner } from "../provisioning/software-keystore.js";

/**
 * DEVELOPMENT, TESTS AND BENCH ONLY: a fleet CA and gateway certificates for fixtures, issued by the
 * same functions as the real CA (fleet/ca/pki.ts) but over a fixed validity period, so that fixtures
 * running on a manual clock (and committed test vectors) do not depend on today's date. Keys are
 * generated per run (or passed in), never committed.
 */

/** The fixtures' validity period: long before and after any manual clock they run on. */
export const FIXTURE_VALIDITY = { notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2099-01-01T00:00:00Z") } as const;

/** A fixture CA: certificate (PEM and DER) and its key (PEM). */
export type TestCa = CaBundle;

/** Makes a self-signed fixture CA named `name`, valid over {@link FIXTURE_VALIDITY}. */
export async function makeCa(name = "otgw test fleet CA"): Promise<TestCa> {
  return createCa({ commonName: name, serialHex: "01", window: { ...FIXTURE_VALIDITY } });
}

/** Leaf options: defaults give a valid gateway certificate for `cn`. */
export interface LeafOptions {
  /** Subject CN: the gateway id. */
  cn: string;
  /** The gateway's private key; a fresh P-256 key if absent. */
  key?: KeyObject;
  /** SAN URI; default `urn:otgw:gateway:<cn>`, null for none. */
  sanUri?: string | null;
  /** Serial, hex (default "1001"). */
  serial?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Issue a (subordinate) CA certificate instead: what a gateway must never accept as a leaf. */
  isCa?: boolean;
}

/** A fixture gateway identity: certificate (DER), private key and a signer over it. */
export interface TestLeaf {
  der: Buffer;
  key: KeyObject;
  signer: SoftwareSigner;
}

/** Issues a gateway certificate from `ca`. */
export async function makeLeaf(ca: TestCa, o: LeafOptions): Promise<TestLeaf> {
  const key = o.key ?? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const san = o.sanUri === undefined ? gatewayUri(o.cn) : o.sanUri;
  const issued = await issueCertificate({
    ca, commonName: o.cn, publicKey: createPublicKey(key), usage: o.isCa ? "ca" : "client",
    sanUris: san === null ? [] : [san], serialHex: o.serial ?? "1001",
    window: { notBefore: o.notBefore ?? FIXTURE_VALIDITY.notBefore, notAfter: o.notAfter ?? FIXTURE_VALIDITY.notAfter },
  });
  return { der: issued.certDer, key, signer: new SoftwareSigner(key) };
}
