import type { KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KeyStoreError, TpmError } from "../../kernel/errors.js";
import type { KeyStore, Signer } from "../../kernel/keystore.js";
import { decodeKeyFile, encodeKeyFile } from "./keyfile.js";
import { TpmCommandError } from "./esys.js";
import { Tpm, type TpmKeyBlob } from "./tpm.js";
import { AK_ATTRIBUTES, ATTR, parseEccPublic, publicKeyOf } from "./wire.js";

/**
 * Keys created inside a TPM (P-256, fixedTPM + fixedParent: they can never be exported or moved to
 * another TPM), kept as TSS2 PRIVATE KEY PEM files in `dir` (`<name>.tss2.pem`, mode 0600). The file
 * holds only the TPM-wrapped private part, so the tpm2 OpenSSL provider can load the same key for TLS,
 * and a copy of the directory is useless next to any other TPM.
 */
export class TpmKeyStore implements KeyStore {
  readonly kind = "tpm" as const;
  private tpmHandle: Tpm | undefined;

  constructor(private readonly dir: string, private readonly tcti: string) {}

  /** The key file for `name` (what `identity.tls.key` carries for the uplink). */
  keyFile(name: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new KeyStoreError("KEY_NAME_INVALID", `key name "${name}" may only hold letters, digits, '.', '_' and '-'`);
    return join(this.dir, `${name}.tss2.pem`);
  }

  /** The one ESAPI context of this store, opened on first use. */
  tpm(): Tpm {
    this.tpmHandle ??= Tpm.open(this.tcti);
    return this.tpmHandle;
  }

  has(name: string): Promise<boolean> {
    return Promise.resolve().then(() => existsSync(this.keyFile(name)));
  }

  async create(name: string): Promise<Signer> {
    const file = this.keyFile(name);
    if (existsSync(file)) {
      throw new KeyStoreError("KEY_EXISTS", `key "${name}" already exists at ${file}; keys are never replaced silently: use \`otgw identity rotate\`, or remove it first if you really mean to`);
    }
    const blob = await this.tpm().createSigningKey();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, encodeKeyFile(blob), { mode: 0o600, flag: "wx" });
    return new TpmSigner(this.tpm(), blob);
  }

  async open(name: string): Promise<Signer> {
    const file = this.keyFile(name);
    if (!existsSync(file)) {
      throw new KeyStoreError("KEY_MISSING", `no TPM key "${name}" at ${file}: create it with \`otgw provision\``);
    }
    let blob: ReturnType<typeof decodeKeyFile>;
    try {
      blob = decodeKeyFile(readFileSync(file, "utf8"));
    } catch (err) {
      // keyfile.ts words what is wrong with the text; the file it came from is known only here.
      if (err instanceof TpmError) throw new TpmError(err.code, `TPM key "${name}" ${file}: ${err.message}`);
      throw err;
    }
    const attrs = parseEccPublic(blob.pub).attributes;
    if (!(attrs & ATTR.fixedTPM) || !(attrs & ATTR.fixedParent) || !(attrs & ATTR.sensitiveDataOrigin)) {
      throw new TpmError("TPM_KEY_EXPORTABLE", `${file} is not a fixedTPM/fixedParent key generated in the TPM; re-provision with \`otgw provision\``);
    }
    try {
      await this.tpm().verifyLoadable(blob);
    } catch (err) {
      if (err instanceof TpmCommandError) {
        throw new TpmError("TPM_KEY_FOREIGN", `${file} cannot be loaded by the TPM at "${this.tcti}" (${err.message}); a key file only works in the TPM that created it: re-provision this gateway with \`otgw provision\``, { cause: err });
      }
      throw err;
    }
    return new TpmSigner(this.tpm(), blob);
  }

  /** The attestation key file that goes with identity key `name` (`<name>.ak.tss2.pem`). */
  attestationKeyFile(name: string): string {
    return this.keyFile(`${name}.ak`);
  }

  /**
   * The AK of identity key `name`: opened when its file exists, else created in the TPM and written
   * (0600). It lives under the same storage primary as the identity key; the fleet binds it to the EK
   * by credential activation at enrollment (docs/identity.md "Measured boot").
   */
  async attestationKey(name: string): Promise<TpmKeyBlob> {
    const file = this.attestationKeyFile(name);
    if (existsSync(file)) {
      const blob = decodeKeyFile(readFileSync(file, "utf8"));
      if ((parseEccPublic(blob.pub).attributes & AK_ATTRIBUTES) !== AK_ATTRIBUTES) {
        throw new TpmError("TPM_KEY_EXPORTABLE", `${file} is not a restricted fixedTPM/fixedParent signing key: remove it, and \`otgw identity rotate\` creates a new attestation key`);
      }
      return blob;
    }
    const blob = await this.tpm().createAttestationKey();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, encodeKeyFile(blob), { mode: 0o600, flag: "wx" });
    return blob;
  }

  /** Closes the ESAPI context (signers of this store stop working). */
  async close(): Promise<void> {
    await this.tpmHandle?.close();
    this.tpmHandle = undefined;
  }
}

/** ES256 through the TPM: every signature is made inside it; the private key never reaches Node. */
export class TpmSigner implements Signer {
  readonly algorithm = "ES256" as const;
  readonly kind = "tpm" as const;
  private readonly pub: KeyObject;

  constructor(private readonly tpm: Tpm, readonly blob: TpmKeyBlob) {
    this.pub = publicKeyOf(parseEccPublic(blob.pub));
  }

  publicKey(): KeyObject {
    return this.pub;
  }

  sign(data: Uint8Array): Promise<Buffer> {
    return this.tpm.sign(this.blob, data);
  }
}
