import type { Clock } from "../firmware/core/clock.js";
import type { Logger } from "../firmware/core/log.js";
import type { GatewayConfig } from "../firmware/config/schema.js";
import type { Source } from "./source.js";

type SourceConfig = GatewayConfig["sources"][number];

/**
 * Builds the configured sources. Each adapter is imported only when a source of its kind is
 * configured, so a gateway without OPC UA never loads node-opcua (STYLE 1).
 */
export async function createSources(config: GatewayConfig, clock: Clock, logger: Logger): Promise<Source[]> {
  const out: Source[] = [];
  for (const sc of config.sources) out.push(await createSource(sc, clock, logger));
  return out;
}

async function createSource(sc: SourceConfig, clock: Clock, logger: Logger): Promise<Source> {
  switch (sc.kind) {
    case "sim": {
      const { SimSource } = await import("./sim/source.js");
      return new SimSource(sc, clock, logger);
    }
  }
}
