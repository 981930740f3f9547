import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "../../kernel/clock.js";
import { ManualTime } from "../../kernel/scheduler.js";
import { createLogger } from "../../kernel/log.js";
import { Normalizer } from "../../firmware/pipeline/normalize.js";
import { Validator } from "../../firmware/pipeline/validate.js";
import { Quarantine } from "../../firmware/pipeline/quarantine.js";
import { AuditLog, AUDIT_EVENTS } from "../../firmware/audit/audit-log.js";
import { SimSource } from "../../hal/sim/source.js";
import { SoftwareSigner } from "../../provisioning/software-keystore.js";
import { testConfig } from "./helpers.js";

const MARKER = 987654.321;

void test("no payload value reaches the logs at debug level (normalize, validate, quarantine, audit, sim)", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (s: string) => void lines.push(s) } });
  const { config } = testConfig();
  const clock = new ManualClock();
  const time = new ManualTime(clock);
  const sim = new SimSource({ id: "plant", seed: 1, rateHz: 10, assets: [{ id: "pump1", kind: "pump" }], faults: [] }, time, logger, time);
  await sim.start(() => {
    throw new Error("sink down");
  });
  await time.advance(100); // one tick reaches the failing sink
  await sim.stop();
  assert.ok(sim.health().errors > 0, "the sink failures were counted (and logged)");
  const n = new Normalizer(config, clock, logger);
  const raw = { value: MARKER, sourceTsNs: clock.nowNs(), quality: "good" as const, qualityDetail: null };
  assert.equal(n.normalize(sim, { ...raw, address: "pump1/bearing_temp" }), null);
  const rec = n.normalize(sim, { ...raw, address: "pump1/vibration_rms" });
  assert.ok(rec);
  const verdict = new Validator(config).validate(rec);
  assert.equal(verdict.ok, false);
  const q = new Quarantine(join(config.gateway.stateDir, "quarantine.db"), { logger });
  q.add(rec, verdict.ok ? "" : verdict.reason);
  q.close();
  const audit = AuditLog.open(join(config.gateway.stateDir, "audit.jsonl"), { signer: SoftwareSigner.generate(), clock, checkpointEvery: 1, logger });
  audit.append(AUDIT_EVENTS.recordQuarantined, { point: rec.point, stream: rec.stream, reason: verdict.ok ? "" : verdict.reason });
  await audit.close();
  assert.ok(lines.length > 3, "modules did log");
  const all = lines.join("");
  assert.ok(!all.includes(String(MARKER)) && !all.includes("987654"), "the marker value never appears in a log line");
});
