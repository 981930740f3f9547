import type { Clock } from "../../kernel/clock.js";
import { errorText } from "../../kernel/errors.js";
import { child, type Logger } from "../../kernel/log.js";
import type { GatewayConfig } from "../config/schema.js";
import { modelDirOf, trustedSignersOf } from "./config.js";
import { ModelError } from "./errors.js";
import { ModelStage } from "./stage.js";
import { ModelStore, type AuditSink } from "./store.js";

/** A model store for a loaded config (the CLI and the runtime share this). */
export function openModelStore(config: GatewayConfig, audit: AuditSink, clock: Clock, logger?: Logger): ModelStore {
  return new ModelStore({
    dir: modelDirOf(config), trusted: trustedSignersOf(config), allowRollback: config.models?.allowRollback, audit, clock, ...(logger ? { logger } : {}),
  });
}

/**
 * The runtime's entry point: the model stage for the active, re-verified model, or null when the config
 * has no `models` section or no usable model (the refusal is audited by the store; the gateway keeps
 * forwarding telemetry without predictions rather than scoring with an unverified model).
 */
export function openModelStage(config: GatewayConfig, audit: AuditSink, clock: Clock, logger: Logger): ModelStage | null {
  if (!config.models) return null;
  const log = child(logger, "models");
  try {
    const model = openModelStore(config, audit, clock, logger).loadActive();
    log.info({ name: model.ref.name, version: model.ref.version, digest: model.ref.digest }, "edge model loaded");
    return new ModelStage(model, config.gateway.id);
  } catch (err) {
    log.error({ code: err instanceof ModelError ? err.code : "MODEL_ERROR", err: errorText(err) }, "no edge model: predictions are off until a valid bundle is installed");
    return null;
  }
}
