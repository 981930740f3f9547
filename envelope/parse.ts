/**
 * Envelope v1 decoder. Every rule of docs/envelope.md is checked here, so later stages only see
 * well-formed frames; each failure names the frame kind and the field, with the numbers involved.
 * Never throws: hostile bytes come from the network.
 */
import {
  ENC_LEN, FLAG_FINAL, FrameType, HASH_LEN, HPKE_SUITE, MAGIC, SESSION_ID_LEN, SIG_LEN, TAG_LEN, VERSION,
  WRAPPED_KEY_LEN, type CheckpointFrame, type DataFrame, type EndFrame, type Frame, type FramePrefix, type OpenFrame,
} from "./format.js";
import { Reason } from "./reasons.js";

/** Outcome of {@link parseFrame}. */
export type ParseResult =
  | { ok: true; frame: Frame }
  | { ok: false; reason: typeof Reason.MALFORMED | typeof Reason.UNSUPPORTED_VERSION; detail: string };

/** Thrown inside this module only, caught by parseFrame: keeps the field readers short. */
class ParseFail extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

const KIND = ["", "session-open", "data", "checkpoint", "session-end"];

class Reader {
  o = 0;
  constructor(readonly b: Buffer, readonly kind: string) {}

  need(n: number, field: string): void {
    const rest = this.b.length - this.o;
    if (n > rest) throw new ParseFail(`${this.kind} frame: ${field} needs ${n} bytes at offset ${this.o}, only ${rest} remain`);
  }
  u8(field: string): number {
    this.need(1, field);
    return this.b[this.o++] ?? 0;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.b.readUInt16BE(this.o);
    this.o += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.b.readUInt32BE(this.o);
    this.o += 4;
    return v;
  }
  u64(field: string): bigint {
    this.need(8, field);
    const v = this.b.readBigUInt64BE(this.o);
    this.o += 8;
    return v;
  }
  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  /** u8 length + 1..64 chars of [A-Za-z0-9._-]. */
  id(field: string): string {
    const n = this.u8(`${field} length`);
    if (n < 1 || n > 64) throw new ParseFail(`${this.kind} frame: ${field} length ${n} outside 1..64`);
    const v = this.bytes(n, field);
    for (let i = 0; i < n; i++) {
      const c = v[i] ?? 0;
      const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2e || c === 0x5f || c === 0x2d;
      if (!ok) throw new ParseFail(`${this.kind} frame: ${field} byte ${i} (0x${c.toString(16).padStart(2, "0")}) is not in [A-Za-z0-9._-]`);
    }
    return v.toString("latin1");
  }
  end(): void {
    const rest = this.b.length - this.o;
    if (rest !== 0) throw new ParseFail(`${this.kind} frame: ${rest} trailing bytes after the last field`);
  }
}

/** Decodes one frame. Buffers in the result are views into `input` (no copies). */
export function parseFrame(input: Uint8Array): ParseResult {
  const b = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  try {
    // Magic, then version, then the v1 layout (docs/envelope.md "Common prefix"): the version byte alone
    // decides which layout applies, so a frame of another version is UNSUPPORTED_VERSION at any length.
    if (b.length < 4 || b.compare(MAGIC, 0, 4, 0, 4) !== 0) {
      return { ok: false, reason: Reason.MALFORMED, detail: `frame: magic is 0x${b.subarray(0, 4).toString("hex")}, expected "OTGW"` };
    }
    if (b.length < 5) return { ok: false, reason: Reason.MALFORMED, detail: `frame: ${b.length} bytes, shorter than the 8-byte header (no version byte)` };
    const version = b[4] ?? 0;
    if (version !== VERSION) return { ok: false, reason: Reason.UNSUPPORTED_VERSION, detail: `frame: version ${version}, this receiver speaks ${VERSION}` };
    if (b.length < 8) return { ok: false, reason: Reason.MALFORMED, detail: `frame: ${b.length} bytes, shorter than the 8-byte header` };
    const type = b[5] ?? 0;
    if (type !== FrameType.OPEN && type !== FrameType.DATA && type !== FrameType.CHECKPOINT && type !== FrameType.END) {
      return { ok: false, reason: Reason.MALFORMED, detail: `frame: type ${type} is not 1 (session-open), 2 (data), 3 (checkpoint) or 4 (session-end)` };
    }
    const r = new Reader(b, KIND[type] ?? "");
    const flags = b[6] ?? 0;
    const allowed = type === FrameType.CHECKPOINT ? FLAG_FINAL : 0;
    if ((flags & ~allowed) !== 0) throw new ParseFail(`${r.kind} frame: flags 0x${flags.toString(16)} has reserved bits set`);
    if (b[7] !== 0) throw new ParseFail(`${r.kind} frame: reserved byte 7 is ${b[7]}, must be 0`);
    r.o = 8;
    const sessionId = r.bytes(SESSION_ID_LEN, "sessionId");
    const gatewayId = r.id("gatewayId");
    const stream = r.id("stream");
    const prefix: FramePrefix = { type, flags, sessionId, gatewayId, stream };
    if (type === FrameType.OPEN) return { ok: true, frame: parseOpen(r, prefix) };
    if (type === FrameType.DATA) return { ok: true, frame: parseData(r, prefix) };
    if (type === FrameType.END) return { ok: true, frame: parseEnd(r, prefix) };
    return { ok: true, frame: parseCheckpoint(r, prefix) };
  } catch (err) {
    if (err instanceof ParseFail) return { ok: false, reason: Reason.MALFORMED, detail: err.detail };
    // A reader bug must not crash the receiver: report it as malformed, with the cause.
    return { ok: false, reason: Reason.MALFORMED, detail: `frame: decoder error ${err instanceof Error ? err.message : String(err)}` };
  }
}

function parseOpen(r: Reader, p: FramePrefix): OpenFrame {
  const firstSeq = r.u64("firstSeq");
  if (firstSeq < 1n || firstSeq >= 1n << 63n) throw new ParseFail(`session-open frame: firstSeq ${firstSeq} outside 1..2^63-1`);
  const createdNs = r.u64("createdNs");
  const checkpointEveryMessages = r.u32("checkpointEveryMessages");
  const checkpointEveryMs = r.u32("checkpointEveryMs");
  const kem = r.u16("kem");
  const kdf = r.u16("kdf");
  const aead = r.u16("aead");
  if (kem !== HPKE_SUITE.kem || kdf !== HPKE_SUITE.kdf || aead !== HPKE_SUITE.aead) {
    throw new ParseFail(`session-open frame: HPKE suite kem 0x${kem.toString(16)} kdf 0x${kdf.toString(16)} aead 0x${aead.toString(16)} is not the v1 suite (0x10, 0x1, 0x2)`);
  }
  const hpkeAadEnd = r.o;
  const encLen = r.u16("enc length");
  if (encLen !== ENC_LEN) throw new ParseFail(`session-open frame: enc length ${encLen}, expected ${ENC_LEN}`);
  const enc = r.bytes(encLen, "enc");
  const wkLen = r.u16("wrappedKey length");
  if (wkLen !== WRAPPED_KEY_LEN) throw new ParseFail(`session-open frame: wrappedKey length ${wkLen}, expected ${WRAPPED_KEY_LEN}`);
  const wrappedKey = r.bytes(wkLen, "wrappedKey");
  const { certSha256, cert, signedEnd, signature } = readCertifiedTail(r, "session-open");
  return { ...p, type: 1, firstSeq, createdNs, checkpointEveryMessages, checkpointEveryMs, enc, wrappedKey, certSha256, cert, signature, hpkeAadEnd, signedEnd };
}

/**
 * The tail session-open and session-end frames share: certSha256, the certificate, and the signature
 * over everything before it (docs/envelope.md). Ends the frame.
 */
function readCertifiedTail(r: Reader, what: string): { certSha256: Buffer; cert: Buffer; signedEnd: number; signature: Buffer } {
  const certSha256 = r.bytes(HASH_LEN, "certSha256");
  const certLen = r.u16("cert length");
  if (certLen === 0) throw new ParseFail(`${what} frame: cert length 0`);
  const cert = r.bytes(certLen, "cert");
  const signedEnd = r.o;
  const signature = r.bytes(SIG_LEN, "signature");
  r.end();
  return { certSha256, cert, signedEnd, signature };
}

function parseData(r: Reader, p: FramePrefix): DataFrame {
  const seq = r.u64("seq");
  if (seq >= 1n << 63n) throw new ParseFail(`data frame: seq ${seq} is 2^63 or more`);
  const sourceTsNs = r.u64("sourceTsNs");
  const gatewayTsNs = r.u64("gatewayTsNs");
  const sLen = r.u8("schemaId length");
  if (sLen === 0) throw new ParseFail("data frame: schemaId length 0");
  const sBytes = r.bytes(sLen, "schemaId");
  for (let i = 0; i < sLen; i++) {
    const c = sBytes[i] ?? 0;
    if (c < 0x21 || c > 0x7e) throw new ParseFail(`data frame: schemaId byte ${i} (0x${c.toString(16)}) is not printable ASCII`);
  }
  const ctLen = r.u32("ctLen");
  const aadEnd = r.o;
  const rest = r.b.length - r.o;
  if (ctLen < TAG_LEN) throw new ParseFail(`data frame: ctLen ${ctLen} is shorter than the ${TAG_LEN}-byte tag`);
  if (ctLen > rest) throw new ParseFail(`data frame: ctLen ${ctLen} exceeds remaining ${rest} bytes`);
  const ciphertext = r.bytes(ctLen, "ciphertext");
  r.end();
  return { ...p, type: 2, seq, sourceTsNs, gatewayTsNs, schemaId: sBytes.toString("latin1"), ciphertext, aadEnd };
}

function parseCheckpoint(r: Reader, p: FramePrefix): CheckpointFrame {
  const index = r.u32("index");
  if (index === 0) throw new ParseFail("checkpoint frame: index 0 (indexes start at 1)");
  const lastSeq = r.u64("lastSeq");
  if (lastSeq >= 1n << 63n) throw new ParseFail(`checkpoint frame: lastSeq ${lastSeq} is 2^63 or more`);
  const createdNs = r.u64("createdNs");
  const chain = r.bytes(HASH_LEN, "chain");
  const signedEnd = r.o;
  const signature = r.bytes(SIG_LEN, "signature");
  r.end();
  return { ...p, type: 3, final: (p.flags & FLAG_FINAL) !== 0, index, lastSeq, createdNs, chain, signature, signedEnd };
}

function parseEnd(r: Reader, p: FramePrefix): EndFrame {
  const lastSeq = r.u64("lastSeq");
  if (lastSeq >= 1n << 63n) throw new ParseFail(`session-end frame: lastSeq ${lastSeq} is 2^63 or more`);
  const createdNs = r.u64("createdNs");
  const { certSha256, cert, signedEnd, signature } = readCertifiedTail(r, "session-end");
  return { ...p, type: 4, lastSeq, createdNs, certSha256, cert, signature, signedEnd };
}
