import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { pino } from "pino";
import { createLogger } from "../../../kernel/log.js";
import { repoRoot } from "../../../kernel/paths.js";
import { createGateway } from "../../../firmware/runtime/create-gateway.js";
import { createDevStack } from "../../../devkit/dev-stack.js";
import { startFieldPlant } from "../../../devkit/dev-plant/field-plant.js";
import { TrustStore } from "../../../hal/opcua/trust-store.js";
import type { VerifiedEvent } from "../../../ingest/service.js";

export interface DemoOptions {
  messages?: number;
  out: string;
  quiet?: boolean;
}

/** Summary printed as the demo's last stdout line with --messages. */
export interface DemoSummary {
  published: number;
  verified: number;
  rejected: number;
  quarantined: number;
  sealed: number;
  readings: number;
  seconds: number;
  byReason: Record<string, number>;
}

/**
 * The whole path on one machine: throwaway CA → locked-down mosquitto → receiver → gateway on the
 * simulated plant. Logs go to <out>/otgw.log; the terminal shows verified readings as they arrive.
 */
export async function demoCommand(o: DemoOptions): Promise<number> {
  const t0 = Date.now();
  mkdirSync(o.out, { recursive: true });
  const logger = createLogger({ destination: pino.destination({ dest: join(o.out, "otgw.log"), mkdir: true, sync: false }) });
  const say = (msg: string): void => void process.stderr.write(`${msg}\n`);
  say(`otgw demo: building a throwaway CA, broker, receiver and gateway under ${o.out}/`);
  const stack = await createDevStack(join(o.out, "stack"));
  const { service, store } = stack.receiver(logger);
  const bounded = o.messages !== undefined;
  const example = join(repoRoot(), "config", "examples", "sim-plant.yaml");
  say("otgw demo: starting the field plant: a libmodbus PLC (values written by mbpoll) and an OPC UA press (SignAndEncrypt)");
  const plant = await startFieldPlant(join(o.out, "plant"));
  const gw = await stack.addGateway("gw-demo-1", example, (cfg) => {
    // A bounded run goes fast; the interactive demo keeps the example's human-scale rate.
    if (bounded) for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 100;
    for (const k of ["sources", "streams", "transforms", "points"] as const) (cfg[k] as unknown[]).push(...plant.config[k]);
  });
  // The technician's step: trust the press's OPC UA server certificate (otgw trust opcua trust --file).
  new TrustStore(join(gw.config.gateway.stateDir, "pki", "opcua")).trust({ file: plant.opcuaServerCert });
  const wired = await createGateway({ config: gw, logger, maxRecords: o.messages });
  const gateway = wired.gateway;

  let lastPrint = 0;
  service.on("verified", (ev: VerifiedEvent) => {
    if (o.quiet || ev.stream === "audit") return;
    const now = Date.now();
    if (now - lastPrint < 100) return; // a readable trickle, not a flood
    lastPrint = now;
    const out = bounded ? process.stderr : process.stdout;
    out.write(formatReading(ev) + "\n");
  });
  service.on("quarantined", (r: { reason: string; detail: string }) => say(`✗ receiver refused a frame: ${r.reason} (${r.detail})`));

  await service.start();
  await gateway.start();
  say(`otgw demo: broker ${stack.broker.url}, gateway gw-demo-1 publishing sealed readings; logs in ${join(o.out, "otgw.log")}`);
  if (!bounded) {
    say("otgw demo: Ctrl-C to stop");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
  } else {
    await wired.limitReached;
  }
  await wired.stop(60_000);
  // Every acknowledged frame is at the broker; give the receiver time to verify what is still in flight.
  const want = gateway.stats.publishedData;
  let seen = -1;
  let stableSince = Date.now();
  for (;;) {
    const c = store.counts();
    if (c.verified >= want) break;
    if (c.verified !== seen) {
      seen = c.verified;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 15_000) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await service.stop();
  await stack.stop();
  await plant.stop();
  const c = store.counts();
  store.close();
  const summary: DemoSummary = {
    published: gateway.stats.publishedData, verified: c.verified, rejected: c.quarantined, quarantined: gateway.stats.quarantined,
    sealed: gateway.stats.sealed, readings: gateway.stats.readings, seconds: Math.round((Date.now() - t0) / 100) / 10, byReason: c.byReason,
  };
  if (bounded) process.stdout.write(JSON.stringify(summary) + "\n");
  else say(`otgw demo: ${JSON.stringify(summary)}`);
  return summary.verified === summary.published && summary.rejected === 0 && summary.published > 0 ? 0 : 1;
}

function formatReading(ev: VerifiedEvent): string {
  try {
    const r = JSON.parse(ev.plaintext.toString("utf8")) as {
      point: string; value: unknown; unit: string; quality: string; lineage: { sourceUri: string; transformRuleId: string; transformRuleSha256: string };
    };
    const v = typeof r.value === "number" ? r.value.toFixed(2) : String(r.value);
    return `✔ ${ev.gatewayId} ${ev.stream}#${ev.seq} ${r.point} = ${v} ${r.unit} [${r.quality}]  from ${r.lineage.sourceUri} via ${r.lineage.transformRuleId}@${r.lineage.transformRuleSha256.slice(0, 8)}`;
  } catch {
    return `✔ ${ev.gatewayId} ${ev.stream}#${ev.seq} (verified; not a reading)`;
  }
}
