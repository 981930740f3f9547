import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { GatewayConfig, ModelsConfig } from "../config/schema.js";
import { errorText } from "../../kernel/errors.js";
import { trustedKey, type TrustedKey } from "./dsse.js";
import { MODEL_ERRORS, ModelError } from "./errors.js";

/** Resolves the models section's paths like the rest of the config (loadConfig calls this). */
export function resolveModelPaths(m: ModelsConfig, abs: (p: string) => string, stateDir: string): ModelsConfig {
  return {
    ...m,
    dir: m.dir !== undefined ? abs(m.dir) : join(stateDir, "models"),
    trustedSigners: m.trustedSigners.map((t) => ({ ...t, publicKeyFile: abs(t.publicKeyFile) })),
  };
}

/** The model store directory of a loaded config. */
export function modelDirOf(config: GatewayConfig): string {
  return config.models?.dir ?? join(config.gateway.stateDir, "models");
}

/** Reads the configured trusted signer keys; a missing or wrong key file is a clear error. */
export function trustedSignersOf(config: GatewayConfig): TrustedKey[] {
  return (config.models?.trustedSigners ?? []).map((t) => {
    let pem: string;
    try {
      pem = readFileSync(t.publicKeyFile, "utf8");
    } catch (err) {
      throw new ModelError(MODEL_ERRORS.noModel, `cannot read trusted model signer "${t.name}" key ${t.publicKeyFile}: ${errorText(err)}`);
    }
    return trustedKey(t.name, pem);
  });
}
