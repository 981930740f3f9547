import { createLogger } from "../../firmware/core/log.js";
import { systemClock } from "../../firmware/core/clock.js";
import { loadConfig, activeOverrides } from "../../firmware/config/load.js";
import { openIdentity } from "../../firmware/runtime/identity.js";
import { Gateway } from "../../firmware/runtime/gateway.js";
import { createSources } from "../../hal/registry.js";

export async function runCommand(configFile: string): Promise<number> {
  const logger = createLogger();
  const { config, digest } = loadConfig(configFile);
  for (const o of activeOverrides(config)) logger.warn({ override: o.name, reason: o.reason }, "production safeguard overridden (audited)");
  const identity = await openIdentity(config);
  const sources = await createSources(config, systemClock, logger);
  const gw = new Gateway({ config, configDigest: digest, logger, clock: systemClock, signer: identity.signer, tls: identity.tls, sources });
  await gw.start();
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await gw.stop();
  return 0;
}
