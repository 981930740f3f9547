import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../kernel/log.js";
import { silentLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import type { Gateway } from "../../firmware/runtime/gateway.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { createDevStack, type DevStack } from "../../devkit/dev-stack.js";

export const SIM_EXAMPLE = (): string => join(repoRoot(), "config", "examples", "sim-plant.yaml");

export async function newStack(): Promise<DevStack> {
  return createDevStack(mkdtempSync(join(tmpdir(), "otgw-e2e-")));
}

/** Builds a gateway on the stack from the sim example, stopping after `records` telemetry records. */
export async function simGateway(stack: DevStack, id: string, records: number, logger: Logger = silentLogger(), rateHz = 200): Promise<{ gateway: Gateway; limit: Promise<void>; stateDir: string; publicKey: import("node:crypto").KeyObject }> {
  const gw = await stack.addGateway(id, SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = rateHz;
  });
  const { gateway, limitReached, identity } = await createGateway({ config: gw, logger, maxRecords: records });
  return { gateway, limit: limitReached, stateDir: gw.config.gateway.stateDir, publicKey: identity.signer.publicKey() };
}

/** Polls until `cond` holds; fails after `ms` with `what` (a guard against hanging, not a speed limit). */
export async function waitFor(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
