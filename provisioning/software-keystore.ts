import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KeyStoreError } from "../kernel/errors.js";
import type { KeyStore, Signer } from "../kernel/keystore.js";
import { readPrivateKeyFile } from "../kernel/pem.js";

/**
 * DEVELOPMENT ONLY: keys as PEM files (mode 0600) in a directory. Anyone who can read the file can
 * clone the gateway, which is why production mode refuses this store unless explicitly overridden.
 */
export class SoftwareKeyStore implements KeyStore {
  readonly kind = "software" as const;
  constructor(private readonly dir: string) {}

  private path(name: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new KeyStoreError("KEY_NAME_INVALID", `key name "${name}" may only hold letters, digits, '.', '_' and '-'`);
    return join(this.dir, `${name}.key.pem`);
  }

  has(name: string): Promise<boolean> {
    return Promise.resolve(existsSync(this.path(name)));
  }

  create(name: string): Promise<Signer> {
    const file = this.path(name);
    if (existsSync(file)) {
      return Promise.reject(new KeyStoreError("KEY_EXISTS", `key "${name}" already exists at ${file}; keys are never replaced silently: remove it first if you really mean to`));
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    return Promise.resolve(new SoftwareSigner(privateKey));
  }

  open(name: string): Promise<Signer> {
    // A throw in the executor rejects the promise: the checks below read as plain code.
    return new Promise((resolve) => resolve(this.openNow(name)));
  }

  private openNow(name: string): Signer {
    const file = this.path(name);
    if (!existsSync(file)) {
      throw new KeyStoreError(
        "KEY_MISSING",
        `no key "${name}" at ${file}: software keys (development only) are made by the dev kit (\`otgw demo\`, devkit/dev-stack.ts); ` +
          "for a real gateway set identity.keystore: tpm and run `otgw provision`",
      );
    }
    const fix = `restore the key from a backup; otherwise move ${file} aside and make a new identity (its certificate is for the old key)`;
    const key = readPrivateKeyFile(file, { what: `software key "${name}"`, fix });
    try {
      return new SoftwareSigner(key);
    } catch (err) {
      if (err instanceof KeyStoreError && err.code === "KEY_TYPE") throw new KeyStoreError("KEY_TYPE", `${file}: ${err.message}; ${fix}`);
      throw err;
    }
  }
}

/** ES256 signer over a private key held in this process's memory. */
export class SoftwareSigner implements Signer {
  readonly algorithm = "ES256" as const;
  readonly kind = "software" as const;
  private readonly pub: KeyObject;

  constructor(private readonly key: KeyObject) {
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      throw new KeyStoreError("KEY_TYPE", "signing keys must be ECDSA P-256");
    }
    this.pub = createPublicKey(key);
  }

  static fromPem(pem: string): SoftwareSigner {
    return new SoftwareSigner(createPrivateKey(pem));
  }

  static generate(): SoftwareSigner {
    return new SoftwareSigner(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey);
  }

  publicKey(): KeyObject {
    return this.pub;
  }

  /** Synchronous form, for hot paths that already hold a software key (benchmarks, tests). */
  signSync(data: Uint8Array): Buffer {
    return sign("sha256", data, { key: this.key, dsaEncoding: "ieee-p1363" });
  }

  sign(data: Uint8Array): Promise<Buffer> {
    return Promise.resolve(this.signSync(data));
  }
}
