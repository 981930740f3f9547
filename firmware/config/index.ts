/** Gateway config: schema, loader and the `otgw config check` command (docs/config.md). */
export { loadConfig, checkConfigFile, activeOverrides, type LoadedConfig, type ConfigCheck } from "./load.js";
export { configCheckCommand, type CommandIo } from "./check.js";
export { RESERVED_STREAMS } from "./checks.js";
export * from "./schema.js";
