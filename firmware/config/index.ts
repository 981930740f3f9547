/** Gateway config: schema and loader (docs/config.md); `otgw config check` is in bin/commands/config-check.ts. */
export { loadConfig, checkConfigFile, activeOverrides, type LoadedConfig, type ConfigCheck } from "./load.js";
export { RESERVED_STREAMS } from "./checks.js";
export * from "./schema.js";
