import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TpmError } from "../../kernel/errors.js";

/**
 * Loading the tpm2 OpenSSL provider into Node (FACTS: TPM). Node reads an OpenSSL config only at
 * start-up, so a process that needs TLS with a TPM key is started (or re-executed) with
 *   OPENSSL_CONF=<file> node --openssl-shared-config ...
 * where the file lists tpm2 first, then default, plus a `random` section pinned to the default
 * provider (without it Node hangs at start-up). The provider opens its own TPM connection from
 * TPM2OPENSSL_TCTI: on a device /dev/tpmrm0 (the kernel resource manager) serves both it and ESAPI;
 * a bare swtpm serves one connection at a time, so tests put tpm2-abrmd in front of it.
 */

/** Where Debian's tpm2-openssl installs the provider. */
export const TPM2_PROVIDER = process.env.OTGW_TPM2_PROVIDER ?? "/usr/lib/x86_64-linux-gnu/ossl-modules/tpm2.so";
/** Set in a child that was started with the provider, so it never re-executes itself again. */
export const PROVIDER_ENV = "OTGW_TPM_PROVIDER";

/** The OpenSSL config text that loads tpm2 (first) and default. */
export function providerConfigText(module = TPM2_PROVIDER): string {
  return [
    "openssl_conf = otgw_openssl_init", "",
    "[otgw_openssl_init]", "providers = otgw_providers", "random = otgw_random", "alg_section = otgw_algs", "",
    // Without a preference the first provider (tpm2) serves SHA-256 (~1 ms a hash, in the TPM) and EC
    // key generation (WebCrypto ECDH then fails). Preferring the default provider fixes that, and the
    // tie on tpm2's signatures keeps signing with a TPM key in tpm2 (the only provider that can).
    "[otgw_algs]", "default_properties = ?provider=default,?tpm2.signature", "",
    // Prefer the default provider for everything it can do (AES-GCM, SHA-256, ECDH, HKDF for the
    // envelope); without this the TPM serves some of them and WebCrypto fails. Operations on a TPM
    // key still go to tpm2, the only provider that can use it.
    "[otgw_providers]", "tpm2 = otgw_tpm2", "default = otgw_default", "",
    "[otgw_tpm2]", `module = ${module}`, "activate = 1", "",
    "[otgw_default]", "activate = 1", "",
    "[otgw_random]", "properties = provider=default", "seed_properties = provider=default", "",
  ].join("\n");
}

/** Writes the config into `dir` (default: a per-user temp dir) and returns its path. */
export function writeProviderConfig(dir = join(tmpdir(), `otgw-openssl-${process.getuid?.() ?? 0}`)): string {
  if (!existsSync(TPM2_PROVIDER)) {
    throw new TpmError("TPM_PROVIDER_MISSING", `the tpm2 OpenSSL provider is not at ${TPM2_PROVIDER}: apt-get install tpm2-openssl (or set OTGW_TPM2_PROVIDER)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, "openssl-tpm2.cnf");
  writeFileSync(file, providerConfigText());
  return file;
}

/** Node flags and environment for a child that can use TSS2 key files in TLS. */
export function providerLaunch(tcti: string, env: NodeJS.ProcessEnv = process.env): { execArgv: string[]; env: NodeJS.ProcessEnv } {
  return {
    execArgv: ["--openssl-shared-config"],
    env: { ...env, OPENSSL_CONF: writeProviderConfig(), TPM2OPENSSL_TCTI: tcti, [PROVIDER_ENV]: "1" },
  };
}

/** True in a process started through `providerLaunch`. */
export function providerRequested(): boolean {
  return process.env[PROVIDER_ENV] === "1";
}

/**
 * Re-executes this same command line as a child with the provider loaded, forwarding stdio and
 * SIGINT/SIGTERM, and resolves with the child's exit code. Used by `otgw run|check|identity` when
 * the identity is in a TPM.
 */
export function reexecWithProvider(tcti: string): Promise<number> {
  const { execArgv, env } = providerLaunch(tcti);
  const child = spawn(process.execPath, [...execArgv, ...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit", env });
  const forward = (sig: NodeJS.Signals) => () => { child.kill(sig); };
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(code ?? (signal ? 128 : 1));
    });
    child.once("error", () => resolve(1));
  });
}
