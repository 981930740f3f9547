import type { Clock } from "../../kernel/clock.js";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import type { NormalizedRecord } from "../../kernel/record.js";
import type { GatewayConfig, PointConfig, TransformRule } from "../config/schema.js";
import type { RawReading, Source } from "../../hal/source.js";
import { canonicalJson, sha256Hex } from "./canonical.js";

/** The part of a Source the normalizer needs: who it is and how it names its points. */
export type SourceRef = Pick<Source, "id" | "adapter" | "uriFor">;

/**
 * The SHA-256 (hex) of the canonical JSON of a transform rule as loaded (defaults filled in), so
 * `{id, unit}` and `{id, unit, scale: 1, offset: 0}` are the same rule with the same hash. `decimals`
 * is part of it only when set, so the lineage proves the rounding and rules without it keep their hash.
 */
export function transformRuleSha256(rule: TransformRule): string {
  const { id, scale, offset, unit, decimals } = rule;
  return sha256Hex(canonicalJson(decimals === undefined ? { id, scale, offset, unit } : { id, scale, offset, unit, decimals }));
}

interface Mapping {
  point: PointConfig;
  rule: TransformRule;
  ruleSha256: string;
  /** uriFor(address) of the source object it was asked of last (a source's URIs are stable), so it is built once, not per reading. */
  uriSource: SourceRef | null;
  uri: string;
}

/** Counters the normalizer keeps; unknown addresses are counted per source, never fatal. */
export interface NormalizerStats {
  normalized: number;
  unknown: number;
  unknownBySource: Record<string, number>;
}

/**
 * Turns a source's raw reading into a NormalizedRecord with full lineage: which point it is, the
 * transform rule (and its hash) that produced the value, and both timestamps in nanoseconds.
 */
export class Normalizer {
  /** source id → address → mapping: two lookups without building a key string per reading. */
  private readonly map = new Map<string, Map<string, Mapping>>();
  private readonly log: Logger;
  private readonly gatewayId: string;
  private readonly warned = new Set<string>();
  private readonly counts: NormalizerStats = { normalized: 0, unknown: 0, unknownBySource: {} };

  /** Builds the (source, address) → point map from a validated config. */
  constructor(config: GatewayConfig, private readonly clock: Clock, logger: Logger = silentLogger()) {
    this.gatewayId = config.gateway.id;
    this.log = child(logger, "pipeline.normalize");
    const rules = new Map(config.transforms.map((t) => [t.id, t] as const));
    for (const point of config.points) {
      const rule = rules.get(point.transform);
      // loadConfig has already refused unknown transforms; this guards hand-built configs in tests.
      if (!rule) throw new TypeError(`point ${point.name}: unknown transform ${point.transform}`);
      let bySource = this.map.get(point.source);
      if (!bySource) {
        bySource = new Map();
        this.map.set(point.source, bySource);
      }
      bySource.set(point.address, { point, rule, ruleSha256: transformRuleSha256(rule), uriSource: null, uri: "" });
    }
  }

  /** The normalized record, or null (and counted) when the address is not mapped to a point. */
  normalize(source: SourceRef, raw: RawReading): NormalizedRecord | null {
    const m = this.map.get(source.id)?.get(raw.address);
    if (!m) {
      this.counts.unknown++;
      this.counts.unknownBySource[source.id] = (this.counts.unknownBySource[source.id] ?? 0) + 1;
      const k = key(source.id, raw.address);
      if (!this.warned.has(k)) {
        this.warned.add(k);
        this.log.warn({ source: source.id, address: raw.address }, "reading for an address no point maps; counted and dropped");
      }
      return null;
    }
    this.counts.normalized++;
    if (m.uriSource !== source) {
      m.uri = source.uriFor(raw.address);
      m.uriSource = source;
    }
    return {
      point: m.point.name,
      stream: m.point.stream,
      value: applyRule(m.rule, raw.value),
      unit: m.rule.unit,
      quality: raw.quality,
      qualityDetail: raw.qualityDetail,
      sourceTsNs: raw.sourceTsNs.toString(),
      gatewayTsNs: this.clock.nowNs().toString(),
      lineage: {
        gatewayId: this.gatewayId,
        adapter: source.adapter,
        sourceUri: m.uri,
        deviceId: m.point.deviceId,
        calibrationId: m.point.calibrationId,
        transformRuleId: m.rule.id,
        transformRuleSha256: m.ruleSha256,
      },
    };
  }

  /** Counters so far (a copy). */
  stats(): NormalizerStats {
    return { ...this.counts, unknownBySource: { ...this.counts.unknownBySource } };
  }
}

/**
 * value × scale + offset for numbers, then rounded to `decimals` places when the rule has them;
 * booleans, strings and null pass through unchanged.
 */
export function applyRule(rule: TransformRule, value: RawReading["value"]): NormalizedRecord["value"] {
  if (typeof value !== "number") return value;
  const v = rule.scale === 1 && rule.offset === 0 ? value : value * rule.scale + rule.offset;
  return rule.decimals === undefined ? v : roundDecimals(v, rule.decimals);
}

/**
 * `v` rounded to `decimals` places, half away from zero, as the nearest double to the decimal text
 * (toFixed rounds the exact binary value, so the float noise of a scale such as 0.1 disappears).
 * Non-finite values pass through; -0 becomes 0.
 */
function roundDecimals(v: number, decimals: number): number {
  if (!Number.isFinite(v)) return v;
  const r = Number(v.toFixed(decimals));
  return r === 0 ? 0 : r;
}

function key(sourceId: string, address: string): string {
  return `${sourceId}\u0000${address}`;
}
