import type { Clock } from "../kernel/clock.js";
import type { Logger } from "../kernel/log.js";
import type { Scheduler } from "../kernel/scheduler.js";
import type { SourceConfig, SourcesConfig } from "./schema.js";
import type { Source } from "./source.js";
import { SourceError } from "../kernel/errors.js";

/**
 * Builds the configured sources. Each adapter is imported only when a source of its kind is
 * configured, so a gateway without OPC UA never loads node-opcua (STYLE 1).
 */
export async function createSources(config: SourcesConfig, clock: Clock, logger: Logger, opts: CreateSourceOptions = {}): Promise<Source[]> {
  const out: Source[] = [];
  for (const sc of config.sources) out.push(await createSource(sc, config, clock, logger, opts));
  return out;
}

/** Optional context for the adapters. */
export interface CreateSourceOptions {
  /** The config file's path, so an OPC UA trust error can print the exact `otgw trust` command to run. */
  configFile?: string;
  /** The adapters' timers: polls, debounce, reconnects (default: the system's; tests pass a ManualTime). */
  scheduler?: Scheduler;
}

async function createSource(sc: SourceConfig, config: SourcesConfig, clock: Clock, logger: Logger, opts: CreateSourceOptions): Promise<Source> {
  switch (sc.kind) {
    case "sim": {
      const { SimSource } = await import("./sim/source.js");
      return new SimSource(sc, clock, logger, opts.scheduler);
    }
    case "modbus-tcp": {
      const { createModbusTcpSource } = await import("./modbus/index.js");
      return createModbusTcpSource(sc, clock, logger, opts.scheduler);
    }
    case "modbus-rtu": {
      const { createModbusRtuSource } = await import("./modbus/index.js");
      return createModbusRtuSource(sc, clock, logger, opts.scheduler);
    }
    case "opcua": {
      const { createOpcuaSource } = await import("./opcua/index.js");
      return createOpcuaSource(sc, config, clock, logger, opts);
    }
    case "gpio": {
      const { createGpioSource } = await import("./gpio/index.js");
      return createGpioSource(sc, clock, logger, opts.scheduler);
    }
  }
  throw new SourceError("SOURCE_KIND_UNKNOWN", "unknown source kind in config: run `otgw config check`");
}
