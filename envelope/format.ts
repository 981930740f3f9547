/**
 * Envelope v1 byte framing: constants, frame shapes and the encoders. Pure: no keys, no policy
 * (sealing policy lives in sealer.ts, decoding in parse.ts). docs/envelope.md is the normative text.
 */
import { createHash } from "node:crypto";

/** ASCII "OTGW", bytes 0..3 of every frame. */
export const MAGIC = Buffer.from("OTGW", "ascii");
/** The only wire version this code writes and reads. */
export const VERSION = 1;
/** Frame type byte (offset 5). */
export const FrameType = { OPEN: 1, DATA: 2, CHECKPOINT: 3, END: 4 } as const;
/** Numeric frame type. */
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];
/** Checkpoint flags bit 0: this checkpoint closes the session. */
export const FLAG_FINAL = 0x01;
/** Session id length in bytes (offset 8..23). */
export const SESSION_ID_LEN = 16;
/** HPKE suite ids carried in the session-open frame (RFC 9180 registry values). */
export const HPKE_SUITE = { kem: 0x0010, kdf: 0x0001, aead: 0x0002 } as const;
/** P-256 uncompressed point: the DHKEM(P-256) `enc` size. */
export const ENC_LEN = 65;
/** 32-byte data key + 16-byte HPKE AES-256-GCM tag. */
export const WRAPPED_KEY_LEN = 48;
/** AES-GCM tag length, included in a data frame's ctLen. */
export const TAG_LEN = 16;
/** ES256 signature as IEEE-P1363 r||s. */
export const SIG_LEN = 64;
/** SHA-256 output: certificate id and chain values. */
export const HASH_LEN = 32;
/** Highest sequence number a sealer may use: nonces stay unique because seq never wraps. */
export const MAX_SEQ = (1n << 63n) - 1n;
/** Most data messages one session may carry; the caller opens a new session after this many. */
export const MAX_SESSION_MESSAGES = 1n << 32n;
/** Default MQTT topic root; the full topic is `otgw/v1/{gatewayId}/{stream}`. */
export const TOPIC_ROOT = "otgw/v1";

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const SCHEMA_RE = /^[\x21-\x7e]{1,255}$/;

/** True if `s` is a valid gatewayId or stream: 1..64 chars of [A-Za-z0-9._-]. */
export function isValidId(s: string): boolean {
  return ID_RE.test(s);
}

/** True if `s` is a valid schema id: 1..255 printable ASCII characters, no spaces. */
export function isValidSchemaId(s: string): boolean {
  return SCHEMA_RE.test(s);
}

/** Root of the partitioned topic scheme: `otgw/v2/{partition}/{gatewayId}/{stream}` (docs/topics.md). */
export const PARTITIONED_ROOT = "otgw/v2";
/** Most partitions a fleet may have (docs/topics.md): a partition is one MQTT session at the broker. */
export const MAX_PARTITIONS = 4096;

/**
 * The partition of a gateway in a fleet of `partitions` (docs/topics.md "Partitioned topics"): the first
 * four bytes of SHA-256 of the gateway id (UTF-8), as a big-endian unsigned integer, modulo `partitions`.
 */
export function partitionOf(gatewayId: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new RangeError(`partitions must be an integer 1..${MAX_PARTITIONS}, got ${partitions}`);
  }
  return createHash("sha256").update(gatewayId, "utf8").digest().readUInt32BE(0) % partitions;
}

/**
 * The MQTT topic every frame of a (gatewayId, stream) session travels on: `otgw/v1/{gatewayId}/{stream}`,
 * or, in a fleet with a partitioned receiver tier (`partitions` given), `otgw/v2/{p}/{gatewayId}/{stream}`.
 */
export function topicFor(gatewayId: string, stream: string, partitions?: number): string {
  if (partitions === undefined) return `${TOPIC_ROOT}/${gatewayId}/${stream}`;
  return `${PARTITIONED_ROOT}/${partitionOf(gatewayId, partitions)}/${gatewayId}/${stream}`;
}

/** A parsed envelope topic; `partition` only for the partitioned scheme (v2). */
export interface TopicParts {
  gatewayId: string;
  stream: string;
  partition?: number;
}

const PARTITION_RE = /^(0|[1-9][0-9]{0,3})$/;

/**
 * Splits an envelope topic; undefined if it is neither `otgw/v1/{gatewayId}/{stream}` nor
 * `otgw/v2/{partition}/{gatewayId}/{stream}` with valid ids and a partition below MAX_PARTITIONS.
 */
export function parseTopic(topic: string): TopicParts | undefined {
  const parts = topic.split("/");
  if (parts[0] !== "otgw") return undefined;
  let partition: number | undefined;
  let rest: string[];
  if (parts.length === 4 && parts[1] === "v1") rest = parts.slice(2);
  else if (parts.length === 5 && parts[1] === "v2" && PARTITION_RE.test(parts[2] ?? "")) {
    partition = Number(parts[2]);
    if (partition >= MAX_PARTITIONS) return undefined;
    rest = parts.slice(3);
  } else return undefined;
  const gatewayId = rest[0] ?? "";
  const stream = rest[1] ?? "";
  if (!isValidId(gatewayId) || !isValidId(stream)) return undefined;
  return partition === undefined ? { gatewayId, stream } : { gatewayId, stream, partition };
}

/** Fields shared by every frame (the common prefix). */
export interface FramePrefix {
  type: FrameTypeCode;
  flags: number;
  /** 16 bytes. */
  sessionId: Buffer;
  gatewayId: string;
  stream: string;
}

/** Decoded session-open frame; Buffers are views into the input frame. */
export interface OpenFrame extends FramePrefix {
  type: 1;
  firstSeq: bigint;
  createdNs: bigint;
  checkpointEveryMessages: number;
  checkpointEveryMs: number;
  enc: Buffer;
  wrappedKey: Buffer;
  certSha256: Buffer;
  cert: Buffer;
  signature: Buffer;
  /** Byte offset of the enc length field: frame[0..hpkeAadEnd) is the HPKE aad. */
  hpkeAadEnd: number;
  /** frame[0..signedEnd) is what the signature covers. */
  signedEnd: number;
}

/** Decoded data frame; ciphertext includes the 16-byte tag. */
export interface DataFrame extends FramePrefix {
  type: 2;
  seq: bigint;
  sourceTsNs: bigint;
  gatewayTsNs: bigint;
  schemaId: string;
  ciphertext: Buffer;
  /** frame[0..aadEnd) is the AEAD additional data (prefix through ctLen). */
  aadEnd: number;
}

/** Decoded checkpoint frame. */
export interface CheckpointFrame extends FramePrefix {
  type: 3;
  final: boolean;
  index: number;
  lastSeq: bigint;
  createdNs: bigint;
  chain: Buffer;
  signature: Buffer;
  signedEnd: number;
}

/**
 * Decoded session-end statement: the gateway found `sessionId` left open by an earlier run of its
 * process and states the highest data seq of it that its queue had committed.
 */
export interface EndFrame extends FramePrefix {
  type: 4;
  /** Highest data seq of the session committed to the gateway's queue (firstSeq − 1 if none). */
  lastSeq: bigint;
  createdNs: bigint;
  certSha256: Buffer;
  /** Certificate of the key that signed this statement (the gateway's identity now; may differ from the session's). */
  cert: Buffer;
  signature: Buffer;
  signedEnd: number;
}

/** Any decoded v1 frame. */
export type Frame = OpenFrame | DataFrame | CheckpointFrame | EndFrame;

/** Encoded length of the common prefix for these ids. */
export function prefixLength(gatewayId: string, stream: string): number {
  return 24 + 1 + gatewayId.length + 1 + stream.length;
}

/** Writes the common prefix at offset 0 of `buf`; returns the offset after it. Ids must be valid (ASCII). */
export function writePrefix(buf: Buffer, p: FramePrefix): number {
  MAGIC.copy(buf, 0);
  buf[4] = VERSION;
  buf[5] = p.type;
  buf[6] = p.flags;
  buf[7] = 0;
  p.sessionId.copy(buf, 8, 0, SESSION_ID_LEN);
  let o = 24;
  buf[o++] = p.gatewayId.length;
  o += buf.write(p.gatewayId, o, "latin1");
  buf[o++] = p.stream.length;
  o += buf.write(p.stream, o, "latin1");
  return o;
}

/** Session-open fields that precede `enc` (and so form the HPKE aad). */
export interface OpenHead {
  sessionId: Buffer;
  gatewayId: string;
  stream: string;
  firstSeq: bigint;
  createdNs: bigint;
  checkpointEveryMessages: number;
  checkpointEveryMs: number;
}

/** Encodes a session-open frame up to (not including) the enc length field: the HPKE aad. */
export function encodeOpenHead(h: OpenHead): Buffer {
  const buf = Buffer.alloc(prefixLength(h.gatewayId, h.stream) + 8 + 8 + 4 + 4 + 6);
  let o = writePrefix(buf, { type: FrameType.OPEN, flags: 0, sessionId: h.sessionId, gatewayId: h.gatewayId, stream: h.stream });
  o = buf.writeBigUInt64BE(h.firstSeq, o);
  o = buf.writeBigUInt64BE(h.createdNs, o);
  o = buf.writeUInt32BE(h.checkpointEveryMessages, o);
  o = buf.writeUInt32BE(h.checkpointEveryMs, o);
  o = buf.writeUInt16BE(HPKE_SUITE.kem, o);
  o = buf.writeUInt16BE(HPKE_SUITE.kdf, o);
  buf.writeUInt16BE(HPKE_SUITE.aead, o);
  return buf;
}

/** Appends enc, wrappedKey, certSha256 and cert to the head: everything the signature covers. */
export function encodeOpenToBeSigned(head: Buffer, enc: Uint8Array, wrappedKey: Uint8Array, certSha256: Uint8Array, cert: Uint8Array): Buffer {
  if (cert.length > 0xffff) throw new RangeError(`certificate DER is ${cert.length} bytes; at most 65535 fit`);
  const buf = Buffer.alloc(head.length + 2 + enc.length + 2 + wrappedKey.length + HASH_LEN + 2 + cert.length);
  let o = head.copy(buf, 0);
  o = buf.writeUInt16BE(enc.length, o);
  buf.set(enc, o);
  o += enc.length;
  o = buf.writeUInt16BE(wrappedKey.length, o);
  buf.set(wrappedKey, o);
  o += wrappedKey.length;
  buf.set(certSha256, o);
  o += HASH_LEN;
  o = buf.writeUInt16BE(cert.length, o);
  buf.set(cert, o);
  return buf;
}

/** Checkpoint fields. */
export interface CheckpointFields {
  sessionId: Buffer;
  gatewayId: string;
  stream: string;
  final: boolean;
  index: number;
  lastSeq: bigint;
  createdNs: bigint;
  chain: Buffer;
}

/** Encodes a checkpoint frame without its signature (the bytes the signature covers). */
export function encodeCheckpointToBeSigned(c: CheckpointFields): Buffer {
  const buf = Buffer.alloc(prefixLength(c.gatewayId, c.stream) + 4 + 8 + 8 + HASH_LEN);
  let o = writePrefix(buf, { type: FrameType.CHECKPOINT, flags: c.final ? FLAG_FINAL : 0, sessionId: c.sessionId, gatewayId: c.gatewayId, stream: c.stream });
  o = buf.writeUInt32BE(c.index, o);
  o = buf.writeBigUInt64BE(c.lastSeq, o);
  o = buf.writeBigUInt64BE(c.createdNs, o);
  c.chain.copy(buf, o);
  return buf;
}

/** Session-end statement fields. */
export interface EndFields {
  sessionId: Buffer;
  gatewayId: string;
  stream: string;
  lastSeq: bigint;
  createdNs: bigint;
  cert: Uint8Array;
}

/** Encodes a session-end statement without its signature (the bytes the signature covers). */
export function encodeEndToBeSigned(e: EndFields): Buffer {
  if (e.cert.length < 1 || e.cert.length > 0xffff) throw new RangeError(`certificate DER is ${e.cert.length} bytes; 1..65535 fit`);
  const buf = Buffer.alloc(prefixLength(e.gatewayId, e.stream) + 8 + 8 + HASH_LEN + 2 + e.cert.length);
  let o = writePrefix(buf, { type: FrameType.END, flags: 0, sessionId: e.sessionId, gatewayId: e.gatewayId, stream: e.stream });
  o = buf.writeBigUInt64BE(e.lastSeq, o);
  o = buf.writeBigUInt64BE(e.createdNs, o);
  o += createHash("sha256").update(e.cert).digest().copy(buf, o);
  o = buf.writeUInt16BE(e.cert.length, o);
  buf.set(e.cert, o);
  return buf;
}

/** Data header length after the prefix, excluding the schema id bytes: seq, two timestamps, schema length byte, ctLen. */
export const DATA_FIXED_LEN = 8 + 8 + 8 + 1 + 4;
