/** Normalize → validate → quarantine, and the record encoding (docs/records.md). */
export { Normalizer, applyRule, transformRuleSha256, type SourceRef, type NormalizerStats } from "./normalize.js";
export { Validator, type Verdict, type ValidatorOptions } from "./validate.js";
export { Quarantine, type QuarantineCount, type QuarantinedRecord, type QuarantineOptions } from "./quarantine.js";
export { encodeRecord, decodeRecord, RecordJsonSchema } from "./encode.js";
export { canonicalJson, sha256Hex } from "./canonical.js";
