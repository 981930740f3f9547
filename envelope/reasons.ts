/**
 * Stable reason codes of the envelope verifier. These strings are part of the receiver's contract
 * (metrics, alerts and stored evidence key on them): never reword one once released; add new ones.
 * docs/envelope.md ("Reason codes") says what each means.
 */
export const Reason = {
  /** The bytes are not a well-formed v1 frame (field, length or value out of rule), or the topic is not an envelope topic. */
  MALFORMED: "MALFORMED",
  /** Magic is right but the version byte is not one this receiver speaks. */
  UNSUPPORTED_VERSION: "UNSUPPORTED_VERSION",
  /** The ES256 signature of a session-open or checkpoint frame does not verify under the gateway certificate. */
  BAD_SIGNATURE: "BAD_SIGNATURE",
  /** The certificate does not chain to a trusted fleet CA, is outside its validity, or is not a gateway certificate. */
  UNKNOWN_GATEWAY: "UNKNOWN_GATEWAY",
  /** The certificate is revoked (trust.isRevoked said so). */
  REVOKED: "REVOKED",
  /** Topic gateway id, frame gateway id and certificate identity disagree, frame stream differs from topic stream, or a partitioned topic names another partition than the gateway's (docs/topics.md). */
  GATEWAY_MISMATCH: "GATEWAY_MISMATCH",
  /** HPKE could not unwrap the session data key with the receiver's private key. */
  KEY_UNWRAP_FAILURE: "KEY_UNWRAP_FAILURE",
  /** A data or checkpoint frame names a session this receiver has never opened. */
  UNKNOWN_SESSION: "UNKNOWN_SESSION",
  /** The session was closed by a final checkpoint; nothing new is accepted in it. */
  SESSION_CLOSED: "SESSION_CLOSED",
  /** AES-256-GCM authentication failed: ciphertext, tag or header (AAD) was altered, or the key is wrong. */
  AEAD_FAILURE: "AEAD_FAILURE",
  /** Already accepted: the same seq, the same session-open, or a checkpoint index not above the last one. */
  REPLAY: "REPLAY",
  /** seq is below the session's firstSeq. (A late seq skipped by a gap is accepted once: it fills the gap.) */
  OUT_OF_ORDER: "OUT_OF_ORDER",
  /** Event code for an accepted data frame whose seq jumped ahead (see `gap` on the result). */
  SEQUENCE_GAP: "SEQUENCE_GAP",
  /** A checkpoint's chain or lastSeq disagrees with what this receiver accepted: deletion, reordering or truncation. */
  CHECKPOINT_MISMATCH: "CHECKPOINT_MISMATCH",
  /**
   * A session-open's createdNs is outside what the receiver accepts: older than its maximum backlog age,
   * earlier than a session already accepted for the same gateway and stream, or ahead of the receiver's
   * clock by more than the allowed skew. Stops a holder of an expired certificate's key from backdating
   * a session into the certificate's validity.
   */
  CREATED_OUT_OF_RANGE: "CREATED_OUT_OF_RANGE",
  /** acceptSync cannot finish this frame without asynchronous work (session-open, or keys not yet derived): call accept. */
  NEEDS_ASYNC: "NEEDS_ASYNC",
} as const;

/** One of the stable reason strings in {@link Reason}. */
export type ReasonCode = (typeof Reason)[keyof typeof Reason];
