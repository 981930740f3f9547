import { generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata
// polyfill loaded first (its README says so); ESM evaluates imports in order, so this line must stay first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { PkiError } from "../../kernel/errors.js";

/**
 * A small X.509 toolkit for development, the demo and tests: a CA, gateway client certificates and
 * broker/receiver certificates. All signing goes through @peculiar/x509 over Node's WebCrypto; nothing
 * here implements cryptography. A production fleet CA (EST server, TPM attestation) builds on the same
 * calls but keeps its CA key elsewhere.
 */

// Node's webcrypto is the standard Crypto; the cast only bridges lib typings (this project has no DOM lib).
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_ALG = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN_ALG = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** A certificate authority whose key is held in memory (PEM) for issuing. */
export interface CaBundle {
  /** CA certificate, PEM. */
  certPem: string;
  /** CA private key, PKCS#8 PEM. Development only: never commit or ship it. */
  keyPem: string;
  /** CA certificate, DER. */
  certDer: Buffer;
}

/** What `issueCertificate` returns (the private key stays with whoever generated it). */
export interface IssuedCertificate {
  /** Leaf certificate, PEM. */
  certPem: string;
  /** Leaf certificate, DER. */
  certDer: Buffer;
  /** Serial number as lowercase hex, for CRLs and audit events. */
  serialHex: string;
}

/**
 * A fixed validity period, for fixtures that run on a manual clock and for certificates that must
 * already be expired or not yet valid. Issuing for real uses `days` from now.
 */
export interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
}

/** How long a certificate is valid: exactly one of the two. */
export interface ValidityOptions {
  /** Validity in days from now (back-dated a little for clock skew). */
  days?: number;
  /** An explicit period instead of `days`. */
  window?: ValidityWindow;
}

export interface IssueOptions extends ValidityOptions {
  /** The issuing CA. */
  ca: CaBundle;
  /** Subject CN: the gateway id for gateways, the service name otherwise. */
  commonName: string;
  /** Subject public key (P-256). The private half never passes through here. */
  publicKey: KeyObject;
  /**
   * Extended key usage clientAuth or serverAuth; "ca" issues a subordinate CA certificate instead
   * (cA, path length 0, keyCertSign and cRLSign, no extended key usage).
   */
  usage: "client" | "server" | "ca";
  /** SAN URIs, e.g. `urn:otgw:gateway:<id>`. */
  sanUris?: string[];
  /** SAN DNS names. */
  sanDns?: string[];
  /** SAN IP addresses. */
  sanIps?: string[];
  /** A fixed serial (hex), for fixtures and test vectors; by default a fresh random one. */
  serialHex?: string;
}

/** Positive 128-bit serial (top bit clear so DER INTEGER stays positive without padding). */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f | 0x01;
  return b.toString("hex");
}

/** A caller's fixed serial, checked and lowercased; else a fresh one. */
function serialOf(fixed: string | undefined): string {
  if (fixed === undefined) return newSerial();
  if (!/^[0-9a-fA-F]{1,40}$/.test(fixed)) throw new PkiError("PKI_SERIAL", `certificate serial must be 1 to 40 hex digits, got "${fixed}"`);
  return fixed.toLowerCase();
}

function validity({ days, window }: ValidityOptions): ValidityWindow {
  if (window) {
    if (days !== undefined) throw new PkiError("PKI_VALIDITY", "give the certificate validity as days or as a window, not both");
    if (!(window.notAfter.getTime() > window.notBefore.getTime())) throw new PkiError("PKI_VALIDITY", `certificate validity window ends (${window.notAfter.toISOString()}) before it starts (${window.notBefore.toISOString()})`);
    return { notBefore: window.notBefore, notAfter: window.notAfter };
  }
  if (days === undefined || !Number.isFinite(days) || days <= 0) throw new PkiError("PKI_VALIDITY", `certificate validity must be a positive number of days, got ${days}`);
  // Back-date a little so a gateway whose clock lags the CA's by a few minutes still accepts it, but by
  // at most a tenth of the lifetime: a short-lived certificate would otherwise start most of its life
  // already spent, and renewal (at a fraction of the lifetime) would fire at once.
  const now = Date.now();
  const backdate = Math.min(5 * 60_000, (days * DAY_MS) / 10);
  return { notBefore: new Date(now - backdate), notAfter: new Date(now + days * DAY_MS) };
}

function cnName(cn: string): string {
  if (!/^[A-Za-z0-9._ -]+$/.test(cn)) throw new PkiError("PKI_NAME", `common name "${cn}" may only hold letters, digits, space, '.', '_' and '-'`);
  return `CN=${cn}`;
}

/** Creates a self-signed P-256 CA valid for `days` (or `window`), optionally with a fixed serial (hex). */
export async function createCa(opts: { commonName: string; serialHex?: string } & ValidityOptions): Promise<CaBundle> {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialOf(opts.serialHex),
    name: cnName(opts.commonName),
    ...validity(opts),
    keys,
    signingAlgorithm: SIGN_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    certPem: cert.toString("pem"),
    keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
    certDer: Buffer.from(cert.rawData),
  };
}

/** A CaBundle from PEM files' contents (e.g. what `writeDevPki` wrote). */
export function caFromPem(certPem: string, keyPem: string): CaBundle {
  return { certPem, keyPem, certDer: Buffer.from(new x509.X509Certificate(certPem).rawData) };
}

/** Issues a leaf certificate for `publicKey`, signed by `ca`. */
export async function issueCertificate(opts: IssueOptions): Promise<IssuedCertificate> {
  const { ca } = opts;
  const caCert = new x509.X509Certificate(ca.certDer);
  const caKey = await webcrypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(ca.keyPem), EC_ALG, false, ["sign"]);
  if (opts.publicKey.type !== "public") throw new PkiError("PKI_KEY", "issueCertificate takes the public key only; never pass a private key to the issuer");
  const spki = opts.publicKey.export({ type: "spki", format: "der" });
  const names: x509.JsonGeneralNames = [
    ...(opts.sanUris ?? []).map((value) => ({ type: "url" as const, value })),
    ...(opts.sanDns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(opts.sanIps ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: x509.Extension[] = opts.usage === "ca"
    ? [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ]
    : [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([opts.usage === "client" ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth], false),
    ];
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(spki), await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey));
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const serialHex = serialOf(opts.serialHex);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    subject: cnName(opts.commonName),
    issuer: caCert.subject,
    ...validity(opts),
    publicKey: spki,
    signingKey: caKey,
    signingAlgorithm: SIGN_ALG,
    extensions,
  });
  return { certPem: cert.toString("pem"), certDer: Buffer.from(cert.rawData), serialHex };
}

/** The SAN URI that names a gateway identity. */
export function gatewayUri(gatewayId: string): string {
  return `urn:otgw:gateway:${gatewayId}`;
}

/** One client or server identity written by `writeDevPki`. */
export interface DevIdentityFiles {
  /** Certificate PEM path. */
  cert: string;
  /** Private key PEM path (PKCS#8, mode 0600). */
  key: string;
  /** Certificate serial, hex. */
  serialHex: string;
}

/** Paths written by `writeDevPki`. */
export interface DevPkiPaths {
  /** The directory everything was written to. */
  dir: string;
  /** CA certificate PEM (trust anchor for broker, gateways and receiver). */
  caCert: string;
  /** CA key PEM (mode 0600), kept so tests can issue more certificates or a CRL. */
  caKey: string;
  /** Broker server identity: CN localhost, SAN DNS localhost + IP 127.0.0.1 (+ `serverIps`, for a fault test's veth address). */
  server: DevIdentityFiles;
  /** One client identity per gateway id (CN = id, SAN URI urn:otgw:gateway:<id>). */
  gateways: Record<string, DevIdentityFiles>;
  /** The receiver's client identity (CN = receiverName). */
  receiver: DevIdentityFiles;
}

function writeKey(path: string, key: KeyObject): void {
  writeFileSync(path, key.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its old mode on overwrite
}

async function writeIdentity(dir: string, file: string, name: string, ca: CaBundle, opts: Omit<IssueOptions, "ca" | "publicKey" | "commonName">): Promise<DevIdentityFiles> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const issued = await issueCertificate({ ca, commonName: name, publicKey, ...opts });
  const cert = join(dir, `${file}.crt`);
  const key = join(dir, `${file}.key`);
  writeFileSync(cert, issued.certPem);
  writeKey(key, privateKey);
  return { cert, key, serialHex: issued.serialHex };
}

/**
 * DEVELOPMENT ONLY: writes a fresh CA, a broker server certificate, one client certificate per
 * gateway and a receiver client certificate into `dir`. Keys are generated now, never committed.
 */
export async function writeDevPki(dir: string, opts: { gateways: string[]; receiverName: string; days?: number; serverIps?: string[] }): Promise<DevPkiPaths> {
  const days = opts.days ?? 30;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa({ commonName: "otgw dev CA", days });
  const caCert = join(dir, "ca.crt");
  const caKey = join(dir, "ca.key");
  writeFileSync(caCert, ca.certPem);
  writeFileSync(caKey, ca.keyPem, { mode: 0o600 });
  chmodSync(caKey, 0o600);
  const server = await writeIdentity(dir, "server", "localhost", ca, { days, usage: "server", sanDns: ["localhost"], sanIps: ["127.0.0.1", ...(opts.serverIps ?? [])] });
  if (opts.gateways.includes(opts.receiverName)) {
    throw new PkiError("PKI_NAME", `receiver name "${opts.receiverName}" is also a gateway id: identities are never shared`);
  }
  const gateways: Record<string, DevIdentityFiles> = {};
  for (const id of opts.gateways) {
    gateways[id] = await writeIdentity(dir, `client-${id}`, id, ca, { days, usage: "client", sanUris: [gatewayUri(id)] });
  }
  const receiver = await writeIdentity(dir, `client-${opts.receiverName}`, opts.receiverName, ca, { days, usage: "client" });
  return { dir, caCert, caKey, server, gateways, receiver };
}
