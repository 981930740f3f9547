/**
 * Audit event types. Types are stable strings (never renamed once released); later features add theirs
 * here. Data carries ids, digests, counts and reasons only, never payload values or key material.
 */
export const AUDIT_EVENTS = {
  /** The gateway started: { gatewayId, mode, signer }. */
  gatewayStart: "gateway.start",
  /** The gateway stopped cleanly: { readings, sealed, quarantined }. */
  gatewayStop: "gateway.stop",
  /** A config file was loaded: { digest (sha256 hex of the file), overrides?: [{ name, reason }] }. */
  configLoaded: "config.loaded",
  /** A sealed session opened on a stream: { stream, sessionId }. */
  sessionOpened: "session.opened",
  /** The broker refused us (e.g. PUBACK 135 not authorized): { topic, reasonCode, reason }. */
  authFailure: "auth.failure",
  /** A record failed validation and was quarantined: { point, stream, reason, quarantineId? }. */
  recordQuarantined: "record.quarantined",
  /** The queue dropped frames to stay within its byte bound: { stream, count, bytes }. */
  queueDropped: "queue.dropped",
  /** Signing a control frame (session-open, checkpoint) failed: { stream, error }. */
  signFailure: "sign.failure",
  /** A signed checkpoint over the chain: { upTo, hash, sig, publicKey } (written by the log itself). */
  checkpoint: "checkpoint",
  /** On open, a torn last line (crash mid-write) was cut off: { droppedBytes, droppedSha256 }. */
  tailRepaired: "audit.tail_repaired",
} as const;

/** One of the known event type strings. */
export type AuditEventType = (typeof AUDIT_EVENTS)[keyof typeof AUDIT_EVENTS];
