/**
 * Test fixtures: a fleet CA and gateway certificates made with @peculiar/x509 (over WebCrypto),
 * receivers and sealers wired with a manual clock. Keys are generated per run, never committed as PEM.
 */
// @peculiar/x509 (through tsyringe) needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import { generateKeyPairSync, webcrypto, type KeyObject } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { ManualClock } from "../../kernel/clock.js";
import { SessionSealer, type SealerOptions } from "../../envelope/sealer.js";
import { MemoryVerifierState, Verifier, type TrustOptions } from "../../envelope/verify/verifier.js";
import { SoftwareSigner } from "../../provisioning/software-keystore.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function toCrypto(key: KeyObject): Promise<{ priv: webcrypto.CryptoKey; pub: webcrypto.CryptoKey }> {
  const priv = await webcrypto.subtle.importKey("pkcs8", key.export({ type: "pkcs8", format: "der" }), ALG, true, ["sign"]);
  const jwk = key.export({ format: "jwk" });
  const pub = await webcrypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, ALG, true, ["verify"]);
  return { priv, pub };
}

/** A certificate authority that can issue leaves. */
export interface TestCa {
  key: KeyObject;
  der: Buffer;
  name: string;
}

/** Makes a self-signed CA (DER) with its private key. */
export async function makeCa(name = "otgw test fleet CA", key?: KeyObject, notAfter = new Date("2099-01-01T00:00:00Z")): Promise<TestCa> {
  const k = key ?? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const ck = await toCrypto(k);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01", name: `CN=${name}`, notBefore: new Date("2020-01-01T00:00:00Z"), notAfter, signingAlgorithm: ALG,
    keys: { privateKey: ck.priv, publicKey: ck.pub },
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { key: k, der: Buffer.from(cert.rawData), name };
}

/** Leaf options: defaults give a valid gateway certificate for `cn`. */
export interface LeafOptions {
  cn: string;
  key?: KeyObject;
  sanUri?: string | null;
  serial?: string;
  notBefore?: Date;
  notAfter?: Date;
  isCa?: boolean;
}

/** Issues a gateway certificate (DER) from `ca`. */
export async function makeLeaf(ca: TestCa, o: LeafOptions): Promise<{ der: Buffer; key: KeyObject; signer: SoftwareSigner }> {
  const key = o.key ?? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const leaf = await toCrypto(key);
  const issuer = await toCrypto(ca.key);
  const san = o.sanUri === undefined ? `urn:otgw:gateway:${o.cn}` : o.sanUri;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(o.isCa ?? false, undefined, true),
    new x509.KeyUsagesExtension(o.isCa ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature : x509.KeyUsageFlags.digitalSignature, true),
  ];
  if (san !== null) extensions.push(new x509.SubjectAlternativeNameExtension([{ type: "url", value: san }]));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: o.serial ?? "1001", subject: `CN=${o.cn}`, issuer: `CN=${ca.name}`,
    notBefore: o.notBefore ?? new Date("2020-01-01T00:00:00Z"), notAfter: o.notAfter ?? new Date("2099-01-01T00:00:00Z"),
    signingAlgorithm: ALG, publicKey: leaf.pub, signingKey: issuer.priv, extensions,
  });
  return { der: Buffer.from(cert.rawData), key, signer: new SoftwareSigner(key) };
}

/** A complete pair: CA, gateway leaf, receiver key, sealer factory and verifier factory. */
export interface World {
  ca: TestCa;
  gatewayId: string;
  stream: string;
  topic: string;
  leaf: { der: Buffer; key: KeyObject; signer: SoftwareSigner };
  receiverKey: KeyObject;
  clock: ManualClock;
  sealer(over?: Partial<SealerOptions>): Promise<SessionSealer>;
  verifier(trust?: Partial<TrustOptions>, state?: MemoryVerifierState): Verifier;
}

/** Builds a {@link World} with gateway "gw-test-01" and stream "line1". */
export async function makeWorld(gatewayId = "gw-test-01", stream = "line1"): Promise<World> {
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, { cn: gatewayId });
  const receiverKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const clock = new ManualClock(1_800_000_000_000);
  return {
    ca, gatewayId, stream, topic: `otgw/v1/${gatewayId}/${stream}`, leaf, receiverKey, clock,
    sealer: (over = {}) => SessionSealer.open({
      gatewayId, stream, signer: leaf.signer, certDer: leaf.der, recipientPublicKey: receiverKey, clock,
      checkpointEveryMessages: 100, checkpointEveryMs: 10_000, ...over,
    }),
    verifier: (trust = {}, state = new MemoryVerifierState()) => new Verifier({
      trust: { caCertsDer: [ca.der], ...trust }, recipientPrivateKey: receiverKey, state, clock,
    }),
  };
}

/** JSON of a result for assertion messages (bigints as strings, buffers as hex). */
export function show(x: unknown): string {
  return JSON.stringify(x, (_k, val: unknown) => (typeof val === "bigint" ? val.toString() : val));
}
