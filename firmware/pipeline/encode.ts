import { Type, type Static } from "@sinclair/typebox";
import { Ajv } from "ajv";
import { EnvelopeError } from "../core/errors.js";
import type { NormalizedRecord } from "../core/record.js";
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
  return Buffer.from(canonicalJson(r), "utf8");
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
