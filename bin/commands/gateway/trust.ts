/**
 * `otgw trust opcua list | trust <thumbprint> | reject <thumbprint> | remove <thumbprint> --config FILE`:
 * the technician's control over which OPC UA server certificates the gateway accepts. Works on the
 * trust store of every OPC UA source in the config (their pkiDir, default <stateDir>/pki/opcua), without
 * loading node-opcua. A running gateway picks the change up on its next connection attempt.
 */
import { join } from "node:path";
import { loadConfig } from "../../../firmware/config/load.js";
import { GatewayError, errorText } from "../../../kernel/errors.js";
import { TrustStore, type TrustEntry } from "../../../hal/opcua/trust-store.js";
import { stdio, type Io } from "../../output.js";

export type TrustAction = "list" | "trust" | "reject" | "remove";

export interface TrustOptions {
  config: string;
  /** trust only: add a certificate from a PEM or DER file instead of a recorded thumbprint. */
  file?: string;
}

/** The distinct OPC UA trust store directories of a config. */
export function opcuaTrustDirs(configFile: string): string[] {
  const { config } = loadConfig(configFile);
  const dirs = new Set<string>();
  for (const s of config.sources) if (s.kind === "opcua") dirs.add(s.pkiDir ?? join(config.gateway.stateDir, "pki", "opcua"));
  return [...dirs];
}

const row = (e: TrustEntry) => `${e.state.padEnd(8)} ${e.thumbprint}  ${e.subject}  (valid until ${e.notAfter})`;

/** Runs one action; returns the exit code (0 done, 1 refused or failed, 2 usage). */
export function trustOpcuaCommand(action: TrustAction, thumbprint: string | undefined, o: TrustOptions, io: Io = stdio): number {
  try {
    const dirs = opcuaTrustDirs(o.config);
    if (dirs.length === 0) {
      io.err(`${o.config}: no OPC UA sources are configured, so there is no OPC UA trust store`);
      return 1;
    }
    if (action === "list") {
      for (const dir of dirs) {
        io.out(`# ${dir}`);
        const entries = new TrustStore(dir).list();
        if (entries.length === 0) io.out("(empty: connect once and rejected server certificates appear here)");
        for (const e of entries) io.out(row(e));
      }
      return 0;
    }
    if (action === "trust" && o.file) {
      for (const dir of dirs) io.out(`trusted  ${row(new TrustStore(dir).trust({ file: o.file }))} in ${dir}`);
      return 0;
    }
    if (!thumbprint) {
      io.err(`otgw trust opcua ${action}: a thumbprint is required (see \`otgw trust opcua list --config ${o.config}\`)`);
      return 2;
    }
    let done = 0;
    const failures: string[] = [];
    for (const dir of dirs) {
      const store = new TrustStore(dir);
      try {
        if (action === "trust") io.out(row(store.trust({ thumbprint })));
        else if (action === "reject") io.out(row(store.reject(thumbprint)));
        else for (const e of store.remove(thumbprint)) io.out(`removed  ${e.thumbprint}  ${e.subject}`);
        done++;
      } catch (err) {
        failures.push(errorText(err));
      }
    }
    if (done === 0) {
      for (const f of failures) io.err(f);
      return 1;
    }
    return 0;
  } catch (err) {
    io.err(err instanceof GatewayError ? `${err.message} [${err.code}]` : errorText(err));
    return 1;
  }
}
