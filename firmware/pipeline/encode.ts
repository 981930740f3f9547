import { Type, type Static } from "@sinclair/typebox";
import { Ajv } from "ajv";
import { EnvelopeError } from "../../kernel/errors.js";
import type { NormalizedRecord } from "../../kernel/record.js";
import { canonicalJson } from "./canonical.js";

const Str = Type.String();
const TsNs = Type.String({ pattern: "^(0|[1-9][0-9]{0,19})$" });

/** The record as JSON (schema id otgw.reading/1), for receivers that decode it; docs/records.md. */
export const RecordJsonSchema = Type.Object({
  point: Str,
  stream: Str,
  value: Type.Union([Type.Number(), Type.Boolean(), Type.String(), Type.Null()]),
  unit: Str,
  quality: Type.Union([Type.Literal("good"), Type.Literal("uncertain"), Type.Literal("bad")]),
  qualityDetail: Type.Union([Str, Type.Null()]),
  sourceTsNs: TsNs,
  gatewayTsNs: TsNs,
  lineage: Type.Object({
    gatewayId: Str,
    adapter: Str,
    sourceUri: Str,
    deviceId: Str,
    calibrationId: Type.Union([Str, Type.Null()]),
    transformRuleId: Str,
    transformRuleSha256: Type.String({ pattern: "^[0-9a-f]{64}$" }),
  }, { additionalProperties: false }),
}, { additionalProperties: false });

// Compile-time proof that the schema and the NormalizedRecord interface describe the same shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShape: Same<Static<typeof RecordJsonSchema>, NormalizedRecord> = true;
void sameShape;

const validateRecord = new Ajv({ allErrors: false, strict: true }).compile<NormalizedRecord>(RecordJsonSchema);

/**
 * The bytes that get sealed: UTF-8 canonical JSON of the record (keys sorted, no whitespace), so the
 * same record always gives the same bytes and a second implementation can reproduce them.
 */
export function encodeRecord(r: NormalizedRecord): Buffer {
  return Buffer.from(recordJson(r), "utf8");
}

/** Parses and structurally checks record bytes (the receiver side of encodeRecord). */
export function decodeRecord(bytes: Uint8Array): NormalizedRecord {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new EnvelopeError("RECORD_NOT_JSON", "record payload is not valid UTF-8 JSON");
  }
  if (!validateRecord(data)) {
    const e = validateRecord.errors?.[0];
    throw new EnvelopeError("RECORD_INVALID", `record ${e?.instancePath || "/"}: ${e?.message ?? "invalid"}`);
  }
  return data;
}

// Own enumerable keys of a record as the Normalizer builds it, and as canonical (sorted) JSON parses back.
const RECORD_KEYS_BUILT = ["point", "stream", "value", "unit", "quality", "qualityDetail", "sourceTsNs", "gatewayTsNs", "lineage"];
const RECORD_KEYS_SORTED = ["gatewayTsNs", "lineage", "point", "quality", "qualityDetail", "sourceTsNs", "stream", "unit", "value"];
const LINEAGE_KEYS_BUILT = ["gatewayId", "adapter", "sourceUri", "deviceId", "calibrationId", "transformRuleId", "transformRuleSha256"];
const LINEAGE_KEYS_SORTED = ["adapter", "calibrationId", "deviceId", "gatewayId", "sourceUri", "transformRuleId", "transformRuleSha256"];

function keysAre(o: object, built: readonly string[], sorted: readonly string[]): boolean {
  const k = Object.keys(o);
  if (k.length !== built.length) return false;
  let asBuilt = true;
  let asSorted = true;
  for (let i = 0; i < k.length; i++) {
    if (k[i] !== built[i]) asBuilt = false;
    if (k[i] !== sorted[i]) asSorted = false;
  }
  return asBuilt || asSorted;
}

function strOrNull(v: unknown): boolean {
  return v === null || typeof v === "string";
}

/**
 * canonicalJson(r), specialised for the record shape: the same string, byte for byte (test/pipeline/
 * canonical.test.ts compares them on many records). One JSON.stringify of an object whose members are
 * inserted in sorted key order, instead of sorting keys and joining parts per object. Anything that is
 * not exactly the record shape (other or missing keys, undefined members, a non-finite or non-primitive
 * value) goes to the generic canonicalJson, which also throws for what canonical JSON cannot hold.
 */
export function recordJson(r: NormalizedRecord): string {
  const l: unknown = r.lineage;
  if (typeof l !== "object" || l === null || !keysAre(r, RECORD_KEYS_BUILT, RECORD_KEYS_SORTED) || !keysAre(l, LINEAGE_KEYS_BUILT, LINEAGE_KEYS_SORTED)) {
    return canonicalJson(r);
  }
  // Every member read once, then checked to be a JSON primitive that JSON.stringify writes exactly as
  // canonicalJson does (strings escaped alike, numbers finite).
  const { gatewayTsNs, point, quality, qualityDetail, sourceTsNs, stream, unit } = r;
  const value: unknown = r.value;
  const { adapter, calibrationId, deviceId, gatewayId, sourceUri, transformRuleId, transformRuleSha256 } = l as NormalizedRecord["lineage"];
  if (
    typeof gatewayTsNs !== "string" || typeof point !== "string" || typeof quality !== "string" || !strOrNull(qualityDetail)
    || typeof sourceTsNs !== "string" || typeof stream !== "string" || typeof unit !== "string"
    || !(value === null || typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value)))
    || typeof adapter !== "string" || !strOrNull(calibrationId) || typeof deviceId !== "string" || typeof gatewayId !== "string"
    || typeof sourceUri !== "string" || typeof transformRuleId !== "string" || typeof transformRuleSha256 !== "string"
  ) return canonicalJson(r);
  // Insertion order is the sorted key order.
  return JSON.stringify({
    gatewayTsNs,
    lineage: { adapter, calibrationId, deviceId, gatewayId, sourceUri, transformRuleId, transformRuleSha256 },
    point, quality, qualityDetail, sourceTsNs, stream, unit, value,
  });
}
