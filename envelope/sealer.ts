/**
 * Gateway side of envelope v1: opens a session (HPKE-wrapped data key, signed by the gateway key),
 * seals data frames synchronously (AES-256-GCM, no await and no public-key operation per message),
 * and emits signed checkpoints of the hash chain. Framing lives in format.ts; this file is policy.
 */
import { createCipheriv, createHash, hash, randomBytes, type KeyObject } from "node:crypto";
import type { Clock } from "../kernel/clock.js";
import { EnvelopeError } from "../kernel/errors.js";
import type { Signer } from "../kernel/keystore.js";
import { chainStart } from "./chain.js";
import {
  DATA_FIXED_LEN, FrameType, HASH_LEN, MAX_SEQ, MAX_SESSION_MESSAGES, SESSION_ID_LEN, TAG_LEN, encodeCheckpointToBeSigned,
  encodeEndToBeSigned, encodeOpenHead, encodeOpenToBeSigned, isValidId, isValidSchemaId, prefixLength, topicFor, writePrefix,
} from "./format.js";
import { DATA_KEY_LEN, NONCE_LEN, deriveSessionKeys, wrapDataKey, type SessionKeys } from "./keys.js";
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

const U64_MAX = (1n << 64n) - 1n;
/** Longest schema id (its length is one byte). */
const MAX_SCHEMA_LEN = 255;
const SESSION_LIMIT = Number(MAX_SESSION_MESSAGES);

function u64(v: bigint, what: string): bigint {
  // Same refusal as Buffer#writeBigUInt64BE (DataView#setBigUint64 would silently wrap).
  if (v < 0n || v > U64_MAX) throw new RangeError(`${what} ${v} does not fit a u64`);
  return v;
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
  /** MAC key of this session's receipts (receipt.ts): the gateway checks the receiver's receipts with it. */
  get receiptKey(): KeyObject {
    return this.keys.receiptKey;
  }
  /** Counters since the session opened. */
  readonly counters: SealerCounters = { sealed: 0, bytesSealed: 0, checkpoints: 0, sinceCheckpoint: 0 };

  /** The next seq as two u32 halves (numbers, so the per-message path does no BigInt arithmetic). */
  private seqHi: number;
  private seqLo: number;
  /** Data messages sealed in this session, for the per-session limit. */
  private issued = 0;
  /** Current chain value as a 32-character latin1 ("binary") string, one byte per char: hashing to a string skips a native Buffer per message. */
  private chain: string;
  /**
   * The data header of the next frame, reused by every seal: the prefix (written once), seq, both
   * timestamps, schema id (rewritten only when it changes) and ctLen. frame[0..aadEnd) is copied from it.
   */
  private readonly head: Buffer;
  private readonly headView: DataView;
  private readonly seqOff: number;
  private schemaId = "";
  private aadEnd = 0;
  /** head[0..aadEnd): the AEAD additional data of the current schema id. */
  private aad: Buffer;
  private readonly nonce = Buffer.alloc(NONCE_LEN);
  private readonly nonceView: DataView;
  private readonly baseNonceHi: number;
  private readonly baseNonceLo: number;
  private lastCheckpointMs: number;
  private cpIndex = 0;
  private closed = false;

  private constructor(
    private readonly o: SealerOptions,
    private readonly keys: SessionKeys,
    private readonly sessionId: Buffer,
    openFrame: Buffer,
    firstSeq: bigint,
  ) {
    this.openFrame = openFrame;
    this.topic = topicFor(o.gatewayId, o.stream);
    this.sessionIdHex = sessionId.toString("hex");
    this.seqHi = Number(firstSeq >> 32n);
    this.seqLo = Number(firstSeq & 0xffffffffn);
    this.chain = chainStart(openFrame).toString("latin1");
    this.seqOff = prefixLength(o.gatewayId, o.stream);
    this.head = Buffer.alloc(this.seqOff + DATA_FIXED_LEN + MAX_SCHEMA_LEN);
    this.headView = new DataView(this.head.buffer, this.head.byteOffset, this.head.length);
    writePrefix(this.head, { type: FrameType.DATA, flags: 0, sessionId, gatewayId: o.gatewayId, stream: o.stream });
    this.aad = this.head.subarray(0, 0);
    // Nonce = baseNonce XOR (0^4 || u64be(seq)) (keys.ts nonceInto): bytes 0..3 never change.
    keys.baseNonce.copy(this.nonce, 0, 0, NONCE_LEN);
    this.nonceView = new DataView(this.nonce.buffer, this.nonce.byteOffset, NONCE_LEN);
    this.baseNonceHi = keys.baseNonce.readUInt32BE(4);
    this.baseNonceLo = keys.baseNonce.readUInt32BE(8);
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
    return (BigInt(this.seqHi) << 32n) | BigInt(this.seqLo);
  }

  /** Current chain value (h at nextSeq - 1), a copy. */
  get chainValue(): Buffer {
    return Buffer.from(this.chain, "latin1");
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
    if (this.closed) throw new EnvelopeError("SESSION_CLOSED", `session ${this.sessionIdHex} is closed by a final checkpoint: open a new session`);
    const seqHi = this.seqHi;
    const seqLo = this.seqLo;
    // seq > MAX_SEQ (2^63 - 1) exactly when its top bit is set.
    if (seqHi > 0x7fffffff || this.issued >= SESSION_LIMIT) {
      throw new EnvelopeError("SESSION_EXHAUSTED", `session ${this.sessionIdHex} reached its message limit at seq ${this.nextSeq}: open a new session`);
    }
    if (schemaId !== this.schemaId) this.useSchema(schemaId);
    const ctLen = plaintext.length + TAG_LEN;
    if (ctLen > 0xffffffff) throw new EnvelopeError("ENVELOPE_SIZE", `plaintext of ${plaintext.length} bytes does not fit a u32 ctLen`);
    // Header into the reused head: seq, timestamps and ctLen (the prefix and schema id are already there).
    const hv = this.headView;
    let o = this.seqOff;
    hv.setUint32(o, seqHi);
    hv.setUint32(o + 4, seqLo);
    hv.setBigUint64(o + 8, u64(sourceTsNs, "sourceTsNs"));
    hv.setBigUint64(o + 16, u64(this.o.clock.nowNs(), "gatewayTsNs"));
    const aadEnd = this.aadEnd;
    hv.setUint32(aadEnd - 4, ctLen);
    this.nonceView.setUint32(4, (this.baseNonceHi ^ seqHi) >>> 0);
    this.nonceView.setUint32(8, (this.baseNonceLo ^ seqLo) >>> 0);
    // One buffer per frame, with the previous chain value in the 32 bytes before the frame so the
    // chain step is a single one-shot SHA-256 (no Hash object per message). Header copied in,
    // ciphertext and tag straight after it; the caller gets a view of the frame part.
    const buf = Buffer.allocUnsafe(HASH_LEN + aadEnd + ctLen);
    buf.write(this.chain, 0, "latin1");
    buf.set(this.aad, HASH_LEN);
    const cipher = createCipheriv("aes-256-gcm", this.keys.aeadKey, this.nonce);
    cipher.setAAD(this.aad);
    o = HASH_LEN + aadEnd;
    const ct = cipher.update(plaintext);
    buf.set(ct, o);
    o += ct.length;
    const rest = cipher.final();
    buf.set(rest, o);
    o += rest.length;
    buf.set(cipher.getAuthTag(), o);
    this.chain = hash("sha256", buf, "binary");
    if (seqLo === 0xffffffff) {
      this.seqHi = seqHi + 1;
      this.seqLo = 0;
    } else {
      this.seqLo = seqLo + 1;
    }
    this.issued++;
    this.counters.sealed++;
    this.counters.sinceCheckpoint++;
    this.counters.bytesSealed += plaintext.length;
    return buf.subarray(HASH_LEN);
  }

  /** Writes a schema id into the reused head; runs (and validates the id) only when it differs from the previous message's. */
  private useSchema(schemaId: string): void {
    if (!isValidSchemaId(schemaId)) throw new EnvelopeError("ENVELOPE_SCHEMA", `schema id "${schemaId}" must be 1..255 printable ASCII characters`);
    let o = this.seqOff + 24;
    this.head[o++] = schemaId.length;
    o += this.head.write(schemaId, o, "latin1");
    this.aadEnd = o + 4;
    this.aad = this.head.subarray(0, this.aadEnd);
    this.schemaId = schemaId;
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
      index: ++this.cpIndex, lastSeq: this.nextSeq - 1n, createdNs: this.o.clock.nowNs(), chain: Buffer.from(this.chain, "latin1"),
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
