/**
 * Receipt (envelope frame type 5): what the verifying receiver has committed of one session, sent back
 * to the gateway so that the receiver's commit, not the broker's PUBACK, frees the gateway's queue.
 * Authenticated with HMAC-SHA256 under the session's receipt key (keys.ts), which only the sealing
 * gateway and the receiver that unwrapped the data key can derive: neither the broker nor another
 * gateway can forge one. Pure encode/decode/MAC; docs/envelope.md "Receipt" is the normative text.
 */
import { createHmac, timingSafeEqual, type KeyObject } from "node:crypto";
import { MAGIC, SESSION_ID_LEN, VERSION, isValidId } from "./format.js";

/** Frame type byte of a receipt. */
export const RECEIPT_TYPE = 5;
/** Receipt flags bit 0: the gateway's session-end statement for this session was accepted. */
export const RECEIPT_FLAG_ENDED = 0x01;
/** Receipt flags bit 1: the session was closed by its final checkpoint. */
export const RECEIPT_FLAG_CLOSED = 0x02;
/** Most held ranges one receipt carries (the lowest ones: those are what the gateway must resend first). */
export const MAX_RECEIPT_RANGES = 64;
/** HMAC-SHA256 tag length. */
export const RECEIPT_MAC_LEN = 32;
/** MQTT topic root of receipts: `otgw/r1/{gatewayId}` (docs/topics.md). */
export const RECEIPT_TOPIC_ROOT = "otgw/r1";

/** Stable reason codes of a refused receipt (the gateway counts and logs them; never reword, add). */
export const ReceiptReason = {
  /** The bytes are not a well-formed v1 receipt. */
  MALFORMED: "MALFORMED",
  /** Magic is right but the version is not one this gateway speaks. */
  UNSUPPORTED_VERSION: "UNSUPPORTED_VERSION",
  /** The receipt names another gateway or arrived on another gateway's topic. */
  WRONG_GATEWAY: "WRONG_GATEWAY",
  /** The session is not one whose receipt key this gateway holds (another run's, or unknown). */
  UNKNOWN_SESSION: "UNKNOWN_SESSION",
  /** The HMAC does not verify under the session's receipt key: forged or altered. */
  BAD_MAC: "BAD_MAC",
} as const;
/** One of {@link ReceiptReason}. */
export type ReceiptReasonCode = (typeof ReceiptReason)[keyof typeof ReceiptReason];

/** Inclusive seq range. */
export interface SeqRange {
  from: bigint;
  to: bigint;
}

/** The content of a receipt. */
export interface Receipt {
  /** 16 bytes. */
  sessionId: Buffer;
  gatewayId: string;
  stream: string;
  flags: number;
  /** Every data seq in firstSeq..contiguousNext−1 is committed at the receiver. */
  contiguousNext: bigint;
  /** Index of the last checkpoint the receiver accepted (0 = none). */
  checkpointIndex: number;
  /** Committed ranges beyond the first gap, ascending, disjoint, not adjacent, all above contiguousNext. */
  held: SeqRange[];
}

/** Outcome of {@link parseReceipt}. */
export type ReceiptParse =
  | { ok: true; receipt: Receipt; /** receipt bytes covered by the MAC */ macEnd: number; mac: Buffer }
  | { ok: false; reason: typeof ReceiptReason.MALFORMED | typeof ReceiptReason.UNSUPPORTED_VERSION; detail: string };

/** The topic the receipts of `gatewayId` travel on. */
export function receiptTopicFor(gatewayId: string): string {
  return `${RECEIPT_TOPIC_ROOT}/${gatewayId}`;
}

/** Encodes and MACs a receipt. Throws a RangeError on values out of rule (a bug of the caller). */
export function encodeReceipt(r: Receipt, receiptKey: KeyObject): Buffer {
  if (r.sessionId.length !== SESSION_ID_LEN) throw new RangeError("receipt: sessionId must be 16 bytes");
  if (!isValidId(r.gatewayId) || !isValidId(r.stream)) throw new RangeError("receipt: gatewayId/stream out of the id rule");
  if (r.held.length > MAX_RECEIPT_RANGES) throw new RangeError(`receipt: at most ${MAX_RECEIPT_RANGES} held ranges`);
  const g = Buffer.from(r.gatewayId, "ascii");
  const s = Buffer.from(r.stream, "ascii");
  const p = 26 + g.length + s.length;
  const b = Buffer.alloc(p + 8 + 4 + 2 + 16 * r.held.length + RECEIPT_MAC_LEN);
  MAGIC.copy(b, 0);
  b[4] = VERSION;
  b[5] = RECEIPT_TYPE;
  b[6] = r.flags;
  r.sessionId.copy(b, 8);
  b[24] = g.length;
  g.copy(b, 25);
  b[25 + g.length] = s.length;
  s.copy(b, 26 + g.length);
  let o = p;
  b.writeBigUInt64BE(r.contiguousNext, o); o += 8;
  b.writeUInt32BE(r.checkpointIndex, o); o += 4;
  b.writeUInt16BE(r.held.length, o); o += 2;
  for (const h of r.held) {
    b.writeBigUInt64BE(h.from, o);
    b.writeBigUInt64BE(h.to, o + 8);
    o += 16;
  }
  receiptMac(receiptKey, b.subarray(0, o)).copy(b, o);
  return b;
}

/** HMAC-SHA256 of the receipt bytes before the tag. */
export function receiptMac(receiptKey: KeyObject, covered: Uint8Array): Buffer {
  return createHmac("sha256", receiptKey).update(covered).digest();
}

/** Decodes a receipt (no MAC check: see {@link verifyReceiptMac}). Never throws: the bytes come from the network. */
export function parseReceipt(input: Uint8Array): ReceiptParse {
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const bad = (detail: string): ReceiptParse => ({ ok: false, reason: ReceiptReason.MALFORMED, detail: `receipt: ${detail}` });
  if (b.length < 26 || !b.subarray(0, 4).equals(MAGIC)) return bad("too short or magic is not OTGW");
  if (b[4] !== VERSION) return { ok: false, reason: ReceiptReason.UNSUPPORTED_VERSION, detail: `receipt: version ${b[4] ?? 0} is not ${VERSION}` };
  if (b[5] !== RECEIPT_TYPE) return bad(`type ${b[5] ?? 0} is not ${RECEIPT_TYPE}`);
  const flags = b[6] ?? 0;
  if ((flags & ~(RECEIPT_FLAG_ENDED | RECEIPT_FLAG_CLOSED)) !== 0) return bad(`flags 0x${flags.toString(16)} has unknown bits`);
  if (b[7] !== 0) return bad("reserved byte is not 0");
  const sessionId = b.subarray(8, 24);
  const gl = b[24] ?? 0;
  if (b.length < 26 + gl) return bad("gatewayId runs past the end");
  const gatewayId = b.toString("ascii", 25, 25 + gl);
  const sl = b[25 + gl] ?? 0;
  const p = 26 + gl + sl;
  if (b.length < p) return bad("stream runs past the end");
  const stream = b.toString("ascii", 26 + gl, p);
  if (!isValidId(gatewayId)) return bad("gatewayId breaks the id rule");
  if (!isValidId(stream)) return bad("stream breaks the id rule");
  if (b.length < p + 14) return bad(`body needs ${p + 14} bytes, frame has ${b.length}`);
  const contiguousNext = b.readBigUInt64BE(p);
  const checkpointIndex = b.readUInt32BE(p + 8);
  const n = b.readUInt16BE(p + 12);
  if (n > MAX_RECEIPT_RANGES) return bad(`rangeCount ${n} is above ${MAX_RECEIPT_RANGES}`);
  const macEnd = p + 14 + 16 * n;
  if (b.length !== macEnd + RECEIPT_MAC_LEN) return bad(`length ${b.length} is not ${macEnd + RECEIPT_MAC_LEN} for ${n} range(s)`);
  const held: SeqRange[] = [];
  let floor = contiguousNext; // each range must start above the previous one's end + 1 (a gap between)
  for (let i = 0; i < n; i++) {
    const from = b.readBigUInt64BE(p + 14 + 16 * i);
    const to = b.readBigUInt64BE(p + 22 + 16 * i);
    if (from <= floor || to < from) return bad(`held range ${i} (${from}..${to}) is not ascending above ${floor} with a gap before it`);
    held.push({ from, to });
    floor = to + 1n;
  }
  return { ok: true, receipt: { sessionId, gatewayId, stream, flags, contiguousNext, checkpointIndex, held }, macEnd, mac: b.subarray(macEnd) };
}

/** Constant-time check of a parsed receipt's MAC over `frame[0..macEnd)`. */
export function verifyReceiptMac(receiptKey: KeyObject, frame: Uint8Array, macEnd: number, mac: Buffer): boolean {
  const expect = receiptMac(receiptKey, frame.subarray(0, macEnd));
  return mac.length === expect.length && timingSafeEqual(mac, expect);
}

/** True if data `seq` is committed according to `r`. */
export function receiptCovers(r: Receipt, seq: bigint): boolean {
  if (seq < r.contiguousNext) return true;
  for (const h of r.held) if (seq >= h.from && seq <= h.to) return true;
  return false;
}

/** What a receipt can free of one queued frame: its session and, per type, its seq or checkpoint index. */
export interface FrameRef {
  /** 1 session-open, 2 data, 3 checkpoint, 4 session-end. */
  type: number;
  /** Session id, 32 hex characters. */
  sessionIdHex: string;
  /** Data: seq; checkpoint: index; otherwise 0n. */
  n: bigint;
}

/**
 * Reads type, session and seq/index of a sealed frame from its header, without a full parse (the
 * gateway sealed it itself). Undefined if the bytes are too short to be a frame.
 */
export function frameRef(frame: Buffer): FrameRef | undefined {
  if (frame.length < 26) return undefined;
  const type = frame[5] ?? 0;
  const gl = frame[24] ?? 0;
  const p = 26 + gl + (frame[25 + gl] ?? 0);
  const sessionIdHex = frame.toString("hex", 8, 24);
  if (type === 2) return frame.length >= p + 8 ? { type, sessionIdHex, n: frame.readBigUInt64BE(p) } : undefined;
  if (type === 3) return frame.length >= p + 4 ? { type, sessionIdHex, n: BigInt(frame.readUInt32BE(p)) } : undefined;
  return { type, sessionIdHex, n: 0n };
}

/** True if `r` (a verified receipt of the frame's session) says the receiver committed the frame `f`. */
export function receiptFrees(r: Receipt, f: FrameRef): boolean {
  if (f.type === 1) return true; // any receipt of the session: its session-open was accepted
  if (f.type === 2) return receiptCovers(r, f.n);
  if (f.type === 3) return f.n <= BigInt(r.checkpointIndex);
  if (f.type === 4) return (r.flags & RECEIPT_FLAG_ENDED) !== 0;
  return false;
}
