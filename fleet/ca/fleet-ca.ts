import { generateKeyPairSync, webcrypto, X509Certificate, type KeyObject } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { CaError, errorText, InputFileError } from "../../kernel/errors.js";
import { readCertificatePem, readPrivateKeyPem } from "../../kernel/pem.js";
import { caFromPem, createCa, gatewayUri, issueCertificate, type CaBundle } from "./pki.js";
import { Inventory, keyId } from "./inventory.js";

/**
 * The fleet CA as a directory (0700):
 *   ca.crt, ca.key (0600)        issuing CA: gateway client certificates and the CRL
 *   est.crt, est.key (0600)      the EST server's TLS certificate
 *   ek-roots/*.pem               trusted TPM manufacturer roots and intermediates (EK chains)
 *   crl.pem                      current CRL (mosquitto crlfile, receivers, `GET /.well-known/est/crl`)
 *   inventory.json               device, EK, keys and certificates per gateway
 *   ca.json                      policy: certificate and CRL lifetimes
 * A production CA keeps its key in an HSM; this one is for a site or a test fleet.
 */
export interface CaPolicy {
  /** Gateway certificate lifetime in days (short-lived; fractions allowed for tests). */
  certDays: number;
  /** CRL nextUpdate in days. */
  crlDays: number;
  /**
   * Boot-state quotes (docs/identity.md "Measured boot"): "required" (production) refuses a
   * certificate without a quote that matches an active boot policy; "report" (development, and the
   * default of a ca.json without the field) checks every quote sent and records the verdict, but a
   * missing quote, a missing policy or a mismatch do not refuse.
   */
  quotes?: "required" | "report";
}

export interface CaInitOptions {
  name: string;
  days: number;
  certDays: number;
  crlDays: number;
  /** DNS names and IPs the EST server answers on. */
  serverNames: string[];
  /** PEM files of trusted TPM manufacturer certificates to copy into ek-roots/. */
  ekRoots: string[];
  /** Boot-state quotes: required (production) or report (development, the default). */
  quotes?: "required" | "report";
}

const SIGN_ALG = { name: "ECDSA", hash: "SHA-256" } as const;

/** Creates a fleet CA in `dir` (which must not hold one yet). */
export async function initCa(dir: string, o: CaInitOptions): Promise<void> {
  if (existsSync(join(dir, "ca.key"))) throw new CaError("CA_EXISTS", `${dir} already holds a fleet CA; choose another --dir (a CA is never overwritten)`);
  mkdirSync(join(dir, "ek-roots"), { recursive: true, mode: 0o700 });
  const ca = await createCa({ commonName: o.name, days: o.days });
  writeFileSync(join(dir, "ca.crt"), ca.certPem);
  writeFileSync(join(dir, "ca.key"), ca.keyPem, { mode: 0o600 });
  chmodSync(join(dir, "ca.key"), 0o600);
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ips = o.serverNames.filter((n) => /^[0-9.]+$|:/.test(n));
  const dns = o.serverNames.filter((n) => !ips.includes(n));
  const est = await issueCertificate({ ca, commonName: dns[0] ?? "otgw-est", publicKey, days: o.days, usage: "server", sanDns: dns, sanIps: ips });
  writeFileSync(join(dir, "est.crt"), est.certPem);
  writeFileSync(join(dir, "est.key"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  for (const f of o.ekRoots) copyFileSync(f, join(dir, "ek-roots", basename(f).endsWith(".pem") ? basename(f) : `${basename(f)}.pem`));
  const policy: CaPolicy = { certDays: o.certDays, crlDays: o.crlDays, quotes: o.quotes ?? "report" };
  mkdirSync(join(dir, "boot-policies"), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "ca.json"), `${JSON.stringify(policy, null, 2)}\n`);
  await FleetCa.open(dir).writeCrl();
}

/** An open fleet CA directory. */
export class FleetCa {
  readonly inventory: Inventory;
  readonly policy: CaPolicy;
  private readonly ca: CaBundle;

  private constructor(readonly dir: string) {
    if (!existsSync(join(dir, "ca.key"))) throw new CaError("CA_MISSING", `no fleet CA in ${dir}: create one with \`otgw ca init --dir ${dir}\``);
    const fix = `restore ${dir} from its backup (a fleet CA cannot be re-made: every gateway trusts this one)`;
    this.ca = caFromPem(
      readCertificatePem(join(dir, "ca.crt"), { what: "the fleet CA certificate", fix }),
      readPrivateKeyPem(join(dir, "ca.key"), { what: "the fleet CA key", fix }),
    );
    try {
      this.policy = JSON.parse(readFileSync(join(dir, "ca.json"), "utf8")) as CaPolicy;
    } catch (err) {
      throw new InputFileError("STATE_FILE_INVALID", `the CA policy ${join(dir, "ca.json")} cannot be read as JSON (${errorText(err)}); ${fix}`);
    }
    this.inventory = new Inventory(join(dir, "inventory.json"));
  }

  static open(dir: string): FleetCa {
    return new FleetCa(dir);
  }

  get certPem(): string { return this.ca.certPem; }
  get crlFile(): string { return join(this.dir, "crl.pem"); }
  get caFile(): string { return join(this.dir, "ca.crt"); }
  get estTls(): { cert: string; key: string } {
    const fix = `restore ${this.dir} from its backup`;
    return {
      cert: readCertificatePem(join(this.dir, "est.crt"), { what: "the EST server's certificate", fix }),
      key: readPrivateKeyPem(join(this.dir, "est.key"), { what: "the EST server's key", fix }),
    };
  }

  /** The boot policy directory (docs/boot-policy.md): every *.json in it is active. */
  get bootPolicyDir(): string { return join(this.dir, "boot-policies"); }

  /** Trusted TPM manufacturer certificates (roots and intermediates). */
  ekRoots(): X509Certificate[] {
    const d = join(this.dir, "ek-roots");
    const out: X509Certificate[] = [];
    for (const f of existsSync(d) ? readdirSync(d) : []) {
      const text = readFileSync(join(d, f), "utf8");
      for (const b of text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
        try {
          out.push(new X509Certificate(b));
        } catch (err) {
          throw new InputFileError("CERT_FILE_INVALID", `the TPM manufacturer certificate file ${join(d, f)} holds a certificate that does not parse (OpenSSL: ${errorText(err)}); replace it with the vendor's PEM certificate`);
        }
      }
    }
    return out;
  }

  /** Issues a short-lived gateway certificate (CN = id, SAN URI urn:otgw:gateway:<id>). */
  async issue(gatewayId: string, publicKey: KeyObject): Promise<{ certPem: string; serial: string; notAfter: string; keySha256: string }> {
    const issued = await issueCertificate({ ca: this.ca, commonName: gatewayId, publicKey, days: this.policy.certDays, usage: "client", sanUris: [gatewayUri(gatewayId)] });
    const notAfter = new Date(new X509Certificate(issued.certPem).validTo).toISOString();
    return { certPem: issued.certPem, serial: issued.serialHex, notAfter, keySha256: keyId(publicKey) };
  }

  /** Revokes every certificate of `gatewayId` and publishes a new CRL; returns the serials. */
  async revoke(gatewayId: string, opts: { forget?: boolean } = {}): Promise<string[]> {
    const serials = this.inventory.revoke(gatewayId, opts);
    await this.writeCrl();
    return serials;
  }

  /** The current CRL, re-signed first when past half its lifetime (so fetchers always get a fresh one). */
  async writeCrlIfStale(): Promise<string> {
    if (existsSync(this.crlFile)) {
      const pem = readFileSync(this.crlFile, "utf8");
      const crl = new x509.X509Crl(pem);
      const next = crl.nextUpdate?.getTime() ?? 0;
      if (next - Date.now() > (this.policy.crlDays * 86_400_000) / 2) return pem;
    }
    return this.writeCrl();
  }

  /** Writes crl.pem from the inventory's revoked certificates. */
  async writeCrl(): Promise<string> {
    const key = await webcrypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(this.ca.keyPem), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const now = Date.now();
    const crl = await x509.X509CrlGenerator.create({
      issuer: new x509.X509Certificate(this.ca.certDer).subject,
      thisUpdate: new Date(now - 60_000),
      nextUpdate: new Date(now + this.policy.crlDays * 86_400_000),
      entries: this.inventory.revoked().map((c) => ({ serialNumber: c.serial, revocationDate: new Date(c.revokedAt ?? now), reason: x509.X509CrlReason.keyCompromise })),
      signingKey: key,
      signingAlgorithm: SIGN_ALG,
    });
    // OpenSSL (mosquitto's crlfile) reads only the "X509 CRL" PEM label.
    const pem = crl.toString("pem").replace(/-----(BEGIN|END) CRL-----/g, "-----$1 X509 CRL-----");
    writeFileSync(`${this.crlFile}.tmp`, pem);
    const { renameSync } = await import("node:fs");
    renameSync(`${this.crlFile}.tmp`, this.crlFile);
    return pem;
  }
}
