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
  /** At start, a session the previous run left open was announced to the receiver (signed session-end statement): { stream, sessionId, lastSeq }. */
  sessionEnded: "session.ended",
  /** At start, the sessions the previous run left open could not be announced (signer or queue failure); retried at the next start: { sessions, error }. */
  sessionEndFailed: "session.end-failed",
  /** The broker refused us (e.g. PUBACK 135 not authorized): { topic, reasonCode, reason }. */
  authFailure: "auth.failure",
  /** A record failed validation and was quarantined: { point, stream, reason, quarantineId? }. */
  recordQuarantined: "record.quarantined",
  /** Data dropped to stay within the queue's byte bound, a full disk, or the gateway's in-memory bound: { stream, count, bytes, reason: "bound" | "disk-full" | "memory" }. */
  queueDropped: "queue.dropped",
  /** The queue file was damaged at start-up, moved aside and salvaged: { movedTo, problem, salvaged, unreadable, tailLost } (docs/queue.md). */
  queueRecovered: "queue.recovered",
  /** Signing a control frame (session-open, checkpoint) failed: { stream, error }. */
  signFailure: "sign.failure",
  /** A signed checkpoint over the chain: { upTo, hash, sig, publicKey } (written by the log itself). */
  checkpoint: "checkpoint",
  /** A tamper input changed state (e.g. enclosure opened): { source, uri, active }. */
  tamperInput: "tamper.input",
  /** On open, a torn last line (crash mid-write) was cut off: { droppedBytes, droppedSha256 }. */
  tailRepaired: "audit.tail_repaired",
  /** On open, the log ended on a checkpoint by the gateway's previous identity key (rotated while the gateway was stopped; its certificate issued by the fleet CA for this gateway): { keyFrom, keyTo }. No handover was signed: verify with both keys pinned. */
  signerChanged: "audit.signer_changed",
  /** A model bundle passed signature, signer-trust, digest and version checks: { context, origin, name, version, digest, signer, keyid, bundleSha256 }. */
  modelAccepted: "model.accepted",
  /** A model bundle was refused: { context: install|start, origin, code (MODEL_*), reason, bundleSha256, version?, digest? }. */
  modelRejected: "model.rejected",
  /** The active model changed: { from: { version, digest } | null, to: { version, digest }, name }. */
  modelPromoted: "model.promoted",
  /** A lower version was installed under models.allowRollback: { from, to, highest, reason }. */
  modelRollbackOverride: "model.rollback_override",
  /** This gateway's identity was enrolled (otgw provision): { gatewayId, serial, notAfter, keyId, tcti, est, fleetCaSha256 }. */
  identityProvisioned: "identity.provisioned",
  /** The fleet's verdict on this gateway's boot-state quote at enrollment (otgw provision) or with a renewed/rotated certificate the running gateway switched to: { op, status: match|mismatch|no-policy|no-quote, policy?, differ?, pcrs, eventLog } (docs/identity.md "Measured boot"). */
  identityBootState: "identity.boot-state",
  /** A new certificate for the same key is in use (running gateway): { serialFrom, serialTo, notAfter, keyId }. */
  identityRenewed: "identity.renewed",
  /** A new TPM key and its certificate are in use (running gateway): { serialFrom, serialTo, notAfter, keyFrom, keyTo }. */
  identityRotated: "identity.rotated",
  /** Renewing or switching to a new identity failed; the current one stays in use: { stage: renew|load|connect, error }. */
  identityFailed: "identity.failed",
  /** The uplink moved to a connection made with the new certificate, then closed the old one: { serial, clientId, drainMs, carriedOver, madeBeforeBreak }. */
  uplinkSwitched: "uplink.switched",
  /** The certificate is not valid now, so no session can be opened: readings are held on disk { reason: "expired" | "not-yet-valid", certSerial, validFrom, validTo } (docs/queue.md "Held readings"). */
  identityHolding: "identity.holding",
  /** Held readings were sealed under a valid certificate and queued { records }. */
  identityReleased: "identity.released",
  /** The broker refused the uplink's connection (TLS or CONNACK): { reason, detail }; recorded once per reason in a row. */
  uplinkRefused: "uplink.refused",
  /** The active model was re-verified and loaded at start: { name, version, digest, signer }. */
  modelLoaded: "model.loaded",
  /** An OS update bundle was written to the other slot, which boots next (docs/update.md): { bundleSha256, version, from, compatible, slot?, downgrade, signer }. */
  updateInstalled: "update.installed",
  /** An OS update bundle was refused: { bundleSha256, code (UPDATE_*), reason, version?, from? }. */
  updateRefused: "update.refused",
  /** The gateway booted the slot an update was written to: { slot, version }. */
  updateBooted: "update.booted",
  /** The updated slot passed the health check and the bootloader keeps it: { slot, version }. */
  updateMarkedGood: "update.marked-good",
  /** The bootloader went back to the previous slot (the update never got healthy): { from, to, version }. */
  updateRolledBack: "update.rolled-back",
} as const;

/** One of the known event type strings. */
export type AuditEventType = (typeof AUDIT_EVENTS)[keyof typeof AUDIT_EVENTS];

/** The audit log travels upstream as its own sealed stream (docs/audit-log.md "Upstream copy"). */
export const AUDIT_STREAM = "audit";
export const AUDIT_SCHEMA_ID = "otgw.audit/1";
