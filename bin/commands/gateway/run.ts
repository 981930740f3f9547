import { appendFileSync } from "node:fs";
import { createLogger } from "../../../kernel/log.js";
import { systemClock } from "../../../kernel/clock.js";
import { loadConfig, activeOverrides } from "../../../firmware/config/load.js";
import { parseFrame } from "../../../envelope/parse.js";
import { openIdentity } from "../../../provisioning/identity.js";
import { Gateway, type GatewayDeps } from "../../../firmware/runtime/gateway.js";
import { watchIdentity } from "../../../firmware/runtime/identity-upkeep.js";
import { createSources } from "../../../hal/registry.js";

export interface RunOptions {
  /** Stop accepting readings after this many records, deliver what is queued, then exit. */
  maxRecords?: number;
  /** Append one line `stream sessionHex seq` per stream after each queue commit (crash tests). */
  commitLog?: string;
  /** Called once the gateway has started (systemd readiness). */
  onStarted?: () => void;
  /** Called when shutdown begins. */
  onStopping?: () => void;
}

/**
 * After each group commit, the last committed data frame of each stream: what the queue has accepted
 * and must deliver exactly once, even if the process is SIGKILLed on the next instruction.
 */
function commitLogger(file: string): NonNullable<GatewayDeps["onCommitted"]> {
  return (frames) => {
    const last = new Map<string, string>();
    for (const f of frames) {
      if (!f.data) continue;
      const p = parseFrame(f.payload);
      if (p.ok && p.frame.type === 2) last.set(f.stream, `${f.stream} ${p.frame.sessionId.toString("hex")} ${p.frame.seq}`);
    }
    if (last.size > 0) appendFileSync(file, [...last.values()].join("\n") + "\n");
  };
}

export async function runCommand(configFile: string, o: RunOptions = {}): Promise<number> {
  const logger = createLogger();
  const { config, digest } = loadConfig(configFile);
  for (const ov of activeOverrides(config)) logger.warn({ override: ov.name, reason: ov.reason }, "production safeguard overridden (audited)");
  const identity = await openIdentity(config);
  const sources = await createSources(config, systemClock, logger, { configFile });
  let limit: () => void = () => undefined;
  const limited = new Promise<void>((r) => (limit = r));
  const gw = new Gateway({
    config, configDigest: digest, logger, clock: systemClock, signer: identity.signer, tls: identity.tls, sources,
    ...(o.maxRecords !== undefined ? { maxRecords: o.maxRecords, onLimit: () => limit() } : {}),
    ...(o.commitLog !== undefined ? { onCommitted: commitLogger(o.commitLog) } : {}),
  });
  await gw.start();
  // Renewal/rotation while running: the same CLI, started as a child (process.argv[1] is this otgw).
  const watch = watchIdentity({ gateway: gw, identity, config, configFile, otgw: [...process.execArgv, process.argv[1] ?? ""], logger });
  o.onStarted?.();
  await Promise.race([
    limited,
    new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    }),
  ]);
  o.onStopping?.();
  await watch.stop();
  await gw.stop(o.maxRecords !== undefined ? 600_000 : 10_000);
  await watch.identity.close?.();
  logger.info({ ...gw.stats }, "gateway exited");
  return 0;
}
