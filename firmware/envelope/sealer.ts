/**
 * Gateway side of envelope v1: opens a session (HPKE-wrapped data key, signed by the gateway key),
 * seals data frames synchronously (AES-256-GCM, no await and no public-key operation per message),
 * and emits signed checkpoints of the hash chain. Framing lives in format.ts; this file is policy.
 */
import { createCipheriv, createHash, hash, randomBytes, type KeyObject } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { EnvelopeError } from "../core/errors.js";
import type { Signer } from "../../provisioning/keystore.js";
import { chainStart } from "./chain.js";
import {
  DATA_FIXED_LEN, FrameType, HASH_LEN, MAX_SEQ, MAX_SESSION_MESSAGES, SESSION_ID_LEN, TAG_LEN, encodeCheckpointToBeSigned,
  encodeEndToBeSigned, encodeOpenHead, encodeOpenToBeSigned, isValidId, isValidSchemaId, prefixLength, topicFor, writePrefix,
} from "./format.js";
import { DATA_KEY_LEN, NONCE_LEN, deriveSessionKeys, nonceFromFrame, wrapDataKey, type SessionKeys } from "./keys.js";
import { toLowS } from "./signature.js";

/** Options of {@link SessionSealer.open}. */
export interface SealerOptions {
  /** Gateway id: 1..64 chars of [A-Za-z0-9._-]; must equal the certificate CN. */
  gatewayId: string;
  /** Stream name, same character rule. */
  stream: string;
  /** Gateway identity key (TPM or software); signs the session-open frame and checkpoints. */
  signer: Signer;
  /** Gateway leaf certificate (DER) matching the signer's key. */
  certDer: Buffer;
  /** Receiver's P-256 public key (HPKE recipient). */
  recipientPublicKey: KeyObject;
  clock: Clock;
  /** Checkpoint after this many data messages (0 = no message trigger). */
  checkpointEveryMessages: number;
  /** Checkpoint after this many milliseconds (0 = no time trigger). */
  checkpointEveryMs: number;
  /** First data seq (default 1; 1..2^63-1). */
  firstSeq?: bigint;
  /** Randomness source (default crypto.randomBytes); tests inject a seeded one. */
  random?: (n: number) => Buffer;
}

/** @internal Test-vector hook: fixed data key and session id. Never use in production code. */
export interface SealerTestInjection {
  dataKey: Buffer;
  sessionId: Buffer;
  /** Reuse this already-signed session-open frame (it must carry `sessionId` and the options' fields). */
  openFrame?: Buffer;
}

/** Counters of one session, for metrics and logs (no key material). */
export interface SealerCounters {
  sealed: number;
  bytesSealed: number;
  checkpoints: number;
  sinceCheckpoint: number;
}

function u32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new EnvelopeError("ENVELOPE_OPTION", `${what} must be an integer in 0..4294967295, got ${n}`);
  return n;
}

/** One sealed session of one (gateway, stream). Not safe to share between streams. */
export class SessionSealer {
  /** The signed session-open frame: publish it before any data frame of this session. */
  readonly openFrame: Buffer;
  /** MQTT topic of every frame of this session. */
  readonly topic: string;
  /** Session id as 32 hex characters. */
  readonly sessionIdHex: string;
  /** Counters since the session opened. */
  readonly counters: SealerCounters = { sealed: 0, bytesSealed: 0, checkpoints: 0, sinceCheckpoint: 0 };

  private seq: bigint;
  private chain: Buffer;
  private readonly prefix: Buffer;
  private readonly nonce = Buffer.alloc(NONCE_LEN);
  private readonly schemaCache = new Map<string, Buffer>();
  private lastCheckpointMs: number;
  private cpIndex = 0;
  private closed = false;

  private constructor(
    private readonly o: SealerOptions,
    private readonly keys: SessionKeys,
    private readonly sessionId: Buffer,
    openFrame: Buffer,
    private readonly firstSeq: bigint,
  ) {
    this.openFrame = openFrame;
    this.topic = topicFor(o.gatewayId, o.stream);
    this.sessionIdHex = sessionId.toString("hex");
    this.seq = firstSeq;
    this.chain = chainStart(openFrame);
    this.prefix = Buffer.alloc(prefixLength(o.gatewayId, o.stream));
    writePrefix(this.prefix, { type: FrameType.DATA, flags: 0, sessionId, gatewayId: o.gatewayId, stream: o.stream });
    this.lastCheckpointMs = o.clock.nowMs();
  }

  /**
   * Opens a session: draws a data key and session id, wraps the key to the receiver (HPKE), and signs
   * the session-open frame. The data key lives only inside this object (as derived keys).
   */
  static async open(opts: SealerOptions, inject?: SealerTestInjection): Promise<SessionSealer> {
    if (!isValidId(opts.gatewayId)) throw new EnvelopeError("ENVELOPE_OPTION", `gatewayId "${opts.gatewayId}" must be 1..64 chars of [A-Za-z0-9._-]`);
    if (!isValidId(opts.stream)) throw new EnvelopeError("ENVELOPE_OPTION", `stream "${opts.stream}" must be 1..64 chars of [A-Za-z0-9._-]`);
    const firstSeq = opts.firstSeq ?? 1n;
    if (firstSeq < 1n || firstSeq > MAX_SEQ) throw new EnvelopeError("ENVELOPE_OPTION", `firstSeq ${firstSeq} must be in 1..2^63-1`);
    const random = opts.random ?? randomBytes;
    const dataKey = inject?.dataKey ?? random(DATA_KEY_LEN);
    const sessionId = inject?.sessionId ?? random(SESSION_ID_LEN);
    if (dataKey.length !== DATA_KEY_LEN || sessionId.length !== SESSION_ID_LEN) throw new EnvelopeError("ENVELOPE_OPTION", "data key must be 32 bytes and session id 16 bytes");
    if (inject?.openFrame) return new SessionSealer(opts, deriveSessionKeys(dataKey, sessionId), sessionId, inject.openFrame, firstSeq);
    const head = encodeOpenHead({
      sessionId, gatewayId: opts.gatewayId, stream: opts.stream, firstSeq, createdNs: opts.clock.nowNs(),
      checkpointEveryMessages: u32(opts.checkpointEveryMessages, "checkpointEveryMessages"),
      checkpointEveryMs: u32(opts.checkpointEveryMs, "checkpointEveryMs"),
    });
    const { enc, wrappedKey } = await wrapDataKey(opts.recipientPublicKey, dataKey, head);
    const certSha256 = createHash("sha256").update(opts.certDer).digest();
    const tbs = encodeOpenToBeSigned(head, enc, wrappedKey, certSha256, opts.certDer);
    const sig = toLowS(await opts.signer.sign(tbs));
    const keys = deriveSessionKeys(dataKey, sessionId);
    // The data key itself is no longer needed: only the derived keys stay, in this object.
    if (!inject) dataKey.fill(0);
    return new SessionSealer(opts, keys, sessionId, Buffer.concat([tbs, sig]), firstSeq);
  }

  /** The seq the next sealed message gets. */
  get nextSeq(): bigint {
    return this.seq;
  }

  /** Current chain value (h at nextSeq - 1), a copy. */
  get chainValue(): Buffer {
    return Buffer.from(this.chain);
  }

  /** True once a final checkpoint was requested: seal() refuses from then on. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Seals one message into a data frame and advances seq and the chain. Synchronous by design: an
   * await per message costs several times the AEAD itself. Throws EnvelopeError when the session is
   * closed or exhausted (open a new one).
   */
  seal(plaintext: Uint8Array, schemaId: string, sourceTsNs: bigint): Buffer {
    const seq = this.seq;
    if (this.closed) throw new EnvelopeError("SESSION_CLOSED", `session ${this.sessionIdHex} is closed by a final checkpoint: open a new session`);
    if (seq > MAX_SEQ || seq - this.firstSeq >= MAX_SESSION_MESSAGES) {
      throw new EnvelopeError("SESSION_EXHAUSTED", `session ${this.sessionIdHex} reached its message limit at seq ${seq}: open a new session`);
    }
    let schema = this.schemaCache.get(schemaId);
    if (schema === undefined) {
      if (!isValidSchemaId(schemaId)) throw new EnvelopeError("ENVELOPE_SCHEMA", `schema id "${schemaId}" must be 1..255 printable ASCII characters`);
      schema = Buffer.from(schemaId, "latin1");
      this.schemaCache.set(schemaId, schema);
    }
    const ctLen = plaintext.length + TAG_LEN;
    if (ctLen > 0xffffffff) throw new EnvelopeError("ENVELOPE_SIZE", `plaintext of ${plaintext.length} bytes does not fit a u32 ctLen`);
    // One buffer per frame, with the previous chain value in the 32 bytes before the frame so the
    // chain step is a single one-shot SHA-256 (no Hash object per message). Header written in place,
    // ciphertext and tag copied straight after it; the caller gets a view of the frame part.
    const p = this.prefix;
    const aadEnd = p.length + DATA_FIXED_LEN + schema.length;
    const buf = Buffer.allocUnsafe(HASH_LEN + aadEnd + ctLen);
    this.chain.copy(buf, 0);
    const frame = buf.subarray(HASH_LEN);
    p.copy(frame, 0);
    let o = frame.writeBigUInt64BE(seq, p.length);
    o = frame.writeBigUInt64BE(sourceTsNs, o);
    o = frame.writeBigUInt64BE(this.o.clock.nowNs(), o);
    frame[o++] = schema.length;
    o += schema.copy(frame, o);
    frame.writeUInt32BE(ctLen, o);
    nonceFromFrame(this.nonce, this.keys.baseNonce, frame, p.length);
    const cipher = createCipheriv("aes-256-gcm", this.keys.aeadKey, this.nonce);
    cipher.setAAD(frame.subarray(0, aadEnd));
    o = aadEnd + cipher.update(plaintext).copy(frame, aadEnd);
    o += cipher.final().copy(frame, o);
    cipher.getAuthTag().copy(frame, o);
    this.chain = hash("sha256", buf, "buffer");
    this.seq = seq + 1n;
    this.counters.sealed++;
    this.counters.sinceCheckpoint++;
    this.counters.bytesSealed += plaintext.length;
    return frame;
  }

  /** True when a checkpoint is due: N messages or T ms since the last one, and at least one message since. */
  checkpointDue(): boolean {
    const n = this.counters.sinceCheckpoint;
    if (n === 0 || this.closed) return false;
    const everyN = this.o.checkpointEveryMessages;
    const everyMs = this.o.checkpointEveryMs;
    return (everyN > 0 && n >= everyN) || (everyMs > 0 && this.o.clock.nowMs() - this.lastCheckpointMs >= everyMs);
  }

  /**
   * Signs a checkpoint of the chain. lastSeq and the chain are snapshot synchronously at call time,
   * so messages sealed while the (slow, TPM) signature runs belong to the next checkpoint. Publish
   * the result at the position of the call, before data sealed after it. `final` closes the session.
   */
  async checkpoint(final = false): Promise<Buffer> {
    if (this.closed) throw new EnvelopeError("SESSION_CLOSED", `session ${this.sessionIdHex} is already closed`);
    const tbs = encodeCheckpointToBeSigned({
      sessionId: this.sessionId, gatewayId: this.o.gatewayId, stream: this.o.stream, final,
      index: ++this.cpIndex, lastSeq: this.seq - 1n, createdNs: this.o.clock.nowNs(), chain: this.chain,
    });
    if (final) this.closed = true;
    this.counters.sinceCheckpoint = 0;
    this.counters.checkpoints++;
    this.lastCheckpointMs = this.o.clock.nowMs();
    const sig = toLowS(await this.o.signer.sign(tbs));
    return Buffer.concat([tbs, sig]);
  }
}

/** What {@link signSessionEnd} states about a session an earlier run of the gateway left open. */
export interface SessionEndStatement {
  gatewayId: string;
  stream: string;
  /** The old session's id, 32 hex characters. */
  sessionIdHex: string;
  /** Highest data seq of it committed to the queue (firstSeq − 1 if none). */
  lastSeq: bigint;
  /** The gateway's identity now (it signs, and its certificate travels in the frame). */
  signer: Signer;
  certDer: Buffer;
  clock: Clock;
}

/**
 * Signs a session-end statement (frame type 4, docs/envelope.md "Session-end"): "session S of this
 * stream ended at committed seq M". Publish it on the session's topic after the session's queued frames.
 */
export async function signSessionEnd(s: SessionEndStatement): Promise<Buffer> {
  if (!isValidId(s.gatewayId) || !isValidId(s.stream)) throw new EnvelopeError("ENVELOPE_OPTION", "gatewayId and stream must be 1..64 chars of [A-Za-z0-9._-]");
  if (!/^[0-9a-f]{32}$/.test(s.sessionIdHex)) throw new EnvelopeError("ENVELOPE_OPTION", `session id "${s.sessionIdHex.slice(0, 40)}" is not 32 hex characters`);
  if (s.lastSeq < 0n || s.lastSeq > MAX_SEQ) throw new EnvelopeError("ENVELOPE_OPTION", `lastSeq ${s.lastSeq} must be in 0..2^63-1`);
  const tbs = encodeEndToBeSigned({
    sessionId: Buffer.from(s.sessionIdHex, "hex"), gatewayId: s.gatewayId, stream: s.stream, lastSeq: s.lastSeq, createdNs: s.clock.nowNs(), cert: s.certDer,
  });
  const sig = toLowS(await s.signer.sign(tbs));
  return Buffer.concat([tbs, sig]);
}
