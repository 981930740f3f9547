import { Ajv, type ValidateFunction } from "ajv";
import type { NormalizedRecord } from "../../kernel/record.js";
import type { GatewayConfig } from "../config/schema.js";

/** The verdict on one record: ok, or a reason that names the offending field (never its value). */
export type Verdict = { ok: true } | { ok: false; reason: string };

/** Options for the structural checks. */
export interface ValidatorOptions {
  /** How far a source timestamp may run ahead of the gateway clock before it is refused. */
  maxFutureSkewMs?: number;
}

interface PointRule {
  stream: string;
  unit: string;
  transform: string;
}

const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;
/** 2000-01-01T00:00:00Z in ns: anything earlier is an unset RTC or a unit mistake (s vs ns). */
const MIN_TS_NS = 946_684_800_000_000_000n;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Checks a normalized record against its stream's value schema (Ajv-compiled from the config) and the
 * structural rules no schema in the config can express: the unit matches the point's transform, null
 * values only with non-good quality, sane timestamps, complete lineage.
 */
export class Validator {
  private readonly schemas = new Map<string, ValidateFunction>();
  private readonly points = new Map<string, PointRule>();
  private readonly units = new Map<string, string>();
  private readonly maxSkewNs: bigint;

  /** Compiles every stream's valueSchema once. */
  constructor(config: GatewayConfig, opts: ValidatorOptions = {}) {
    const ajv = new Ajv({ allErrors: false, strict: true });
    for (const s of config.streams) this.schemas.set(s.id, ajv.compile(s.valueSchema));
    for (const t of config.transforms) this.units.set(t.id, t.unit);
    for (const p of config.points) {
      this.points.set(p.name, { stream: p.stream, transform: p.transform, unit: this.units.get(p.transform) ?? "" });
    }
    this.maxSkewNs = BigInt(opts.maxFutureSkewMs ?? 300_000) * 1_000_000n;
  }

  /** ok, or the first problem found as `field: what is wrong`. */
  validate(r: NormalizedRecord): Verdict {
    const schema = this.schemas.get(r.stream);
    if (!schema) return bad(`stream: unknown stream "${r.stream}"`);
    const point = this.points.get(r.point);
    if (!point) return bad(`point: unknown point "${r.point}"`);
    if (point.stream !== r.stream) return bad(`stream: point "${r.point}" belongs to stream "${point.stream}", not "${r.stream}"`);
    if (r.unit !== point.unit) return bad(`unit: "${r.unit}" where transform ${point.transform} says "${point.unit}"`);
    if (r.lineage.transformRuleId !== point.transform) return bad(`lineage.transformRuleId: "${r.lineage.transformRuleId}" where the point uses "${point.transform}"`);
    if (!SHA256_HEX.test(r.lineage.transformRuleSha256)) return bad("lineage.transformRuleSha256: not a SHA-256 hex digest");
    if (r.lineage.sourceUri === "" || r.lineage.gatewayId === "" || r.lineage.deviceId === "") return bad("lineage: gatewayId, sourceUri and deviceId must be set");

    const ts = checkTimestamps(r, this.maxSkewNs);
    if (ts) return bad(ts);

    if (r.value === null) {
      // A missing value is information ("sensor out") as long as the quality says so.
      return r.quality === "good" ? bad("value: null with quality good; a missing value needs quality bad or uncertain") : { ok: true };
    }
    if (typeof r.value === "number" && !Number.isFinite(r.value)) return bad("value: not a finite number");
    if (!schema(r.value)) {
      const e = schema.errors?.[0];
      return bad(`value${e?.instancePath ?? ""}: ${e?.message ?? "does not match"} (stream ${r.stream} valueSchema)`);
    }
    return { ok: true };
  }
}

function checkTimestamps(r: NormalizedRecord, maxSkewNs: bigint): string | null {
  if (!DECIMAL.test(r.sourceTsNs)) return "sourceTsNs: not a decimal nanosecond count";
  if (!DECIMAL.test(r.gatewayTsNs)) return "gatewayTsNs: not a decimal nanosecond count";
  const src = BigInt(r.sourceTsNs);
  const gw = BigInt(r.gatewayTsNs);
  if (src < MIN_TS_NS) return "sourceTsNs: before 2000-01-01 (unset source clock, or seconds/ms given as ns)";
  if (gw < MIN_TS_NS) return "gatewayTsNs: before 2000-01-01 (gateway clock not set)";
  if (src > gw + maxSkewNs) return `sourceTsNs: more than ${maxSkewNs / 1_000_000_000n} s ahead of the gateway clock`;
  return null;
}

function bad(reason: string): Verdict {
  return { ok: false, reason };
}
