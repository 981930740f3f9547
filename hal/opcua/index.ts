/** OPC UA (docs/adapters.md, URIs in docs/records.md). node-opcua loads only when a source connects. */
import { join } from "node:path";
import type { Clock } from "../../kernel/clock.js";
import type { Logger } from "../../kernel/log.js";
import type { Scheduler } from "../../kernel/scheduler.js";
import type { SourcesConfig } from "../schema.js";
import type { OpcuaSourceConfig } from "./schema.js";
import { OpcuaSource } from "./source.js";

export { OpcuaSource, OpcuaUntrustedError, OPCUA_RETRY_MIN_MS, type OpcuaSourceOptions } from "./source.js";
export { TrustStore, thumbprintOf, normalizeThumbprint, type TrustEntry, type TrustState } from "./trust-store.js";
export { readingOf, qualityOf, sourceTsNs } from "./quality.js";

/** The trust store directory of an OPC UA source: its pkiDir, or <stateDir>/pki/opcua. */
export function opcuaPkiDir(sc: OpcuaSourceConfig, config: Pick<SourcesConfig, "gateway">): string {
  return sc.pkiDir ?? join(config.gateway.stateDir, "pki", "opcua");
}

/** An OPC UA source from its config; `scheduler` runs its reconnect timer (default: the system's). */
export function createOpcuaSource(sc: OpcuaSourceConfig, config: Pick<SourcesConfig, "gateway">, clock: Clock, logger: Logger, opts: { configFile?: string; scheduler?: Scheduler } = {}): OpcuaSource {
  return new OpcuaSource({ config: sc, pkiDir: opcuaPkiDir(sc, config), ...(opts.configFile ? { configFile: opts.configFile } : {}), scheduler: opts.scheduler }, clock, logger);
}
