import { join } from "node:path";
import type { GatewayConfig, ModelsConfig } from "../config/schema.js";
import { INPUT_LIMITS, readCappedFile } from "../../kernel/input-file.js";
import { readPublicKeyFile } from "../../kernel/pem.js";
import { trustedKey, type TrustedKey } from "./dsse.js";

/** Resolves the models section's paths like the rest of the config (loadConfig calls this). */
export function resolveModelPaths(m: ModelsConfig, abs: (p: string) => string, stateDir: string): ModelsConfig {
  return {
    ...m,
    dir: m.dir !== undefined ? abs(m.dir) : join(stateDir, "models"),
    trustedSigners: m.trustedSigners.map((t) => ({ ...t, publicKeyFile: abs(t.publicKeyFile) })),
  };
}

/** A model bundle's bytes; refused before reading when over INPUT_LIMITS.bundle (docs/model-bundle.md). */
export function readBundleFile(file: string): Buffer {
  return readCappedFile(file, { maxBytes: INPUT_LIMITS.bundle, what: "the model bundle" });
}

/** The model store directory of a loaded config. */
export function modelDirOf(config: GatewayConfig): string {
  return config.models?.dir ?? join(config.gateway.stateDir, "models");
}

/** Reads the configured trusted signer keys; a missing or wrong key file is a clear error. */
export function trustedSignersOf(config: GatewayConfig): TrustedKey[] {
  return (config.models?.trustedSigners ?? []).map((t) => {
    const key = readPublicKeyFile(t.publicKeyFile, {
      what: `the public key of trusted model signer "${t.name}" (models.trustedSigners)`,
      fix: "copy the registry's model-signer.pub.pem there (`otgw model keygen` makes the pair), or fix the path",
    });
    return trustedKey(t.name, key.export({ type: "spki", format: "pem" }).toString());
  });
}
