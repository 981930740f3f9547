import { appendFileSync } from "node:fs";
import { createLogger } from "../../../kernel/log.js";
import { parseFrame } from "../../../envelope/parse.js";
import { createGateway, type CreateGatewayOptions } from "../../../firmware/runtime/create-gateway.js";
import { watchIdentity } from "../../../firmware/runtime/identity-upkeep.js";

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
function commitLogger(file: string): NonNullable<CreateGatewayOptions["onCommitted"]> {
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
  const wired = await createGateway({
    configFile, logger, maxRecords: o.maxRecords, onCommitted: o.commitLog !== undefined ? commitLogger(o.commitLog) : undefined,
  });
  const gw = wired.gateway;
  await gw.start();
  // Renewal/rotation while running: the same CLI, started as a child (process.argv[1] is this otgw).
  const watch = watchIdentity({ gateway: gw, identity: wired.identity, config: wired.config, configFile, otgw: [...process.execArgv, process.argv[1] ?? ""], logger });
  o.onStarted?.();
  await Promise.race([
    wired.limitReached,
    new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    }),
  ]);
  o.onStopping?.();
  await watch.stop();
  await wired.stop(o.maxRecords !== undefined ? 600_000 : 10_000);
  // The identity in use now, if renewal or rotation moved away from the one the gateway started with.
  await watch.identity.close?.();
  logger.info({ ...gw.stats }, "gateway exited");
  return 0;
}
