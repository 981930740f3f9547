/** Hash-chained, checkpoint-signed audit log and its verifier (docs/audit-log.md). */
export { AuditLog, type AuditLogOptions, type AuditListener } from "./audit-log.js";
export { AUDIT_EVENTS, AUDIT_STREAM, AUDIT_SCHEMA_ID, type AuditEventType } from "./events.js";
export { GENESIS_HASH, entryHash, keyFingerprint, type AuditEntry, type AuditData, type CheckpointData } from "./chain.js";
export { verifyAuditFile, type AuditVerifyResult, type AuditVerifyOk, type AuditVerifyFail, type AuditVerifyOptions } from "./verify.js";
export { readUpstreamAudit, missingLocally, type SeqRange } from "./upstream.js";
