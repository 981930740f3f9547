/**
 * Receiver core of envelope v1: verifies session-open, data and checkpoint frames in strict order per
 * session and returns a precise reason for anything it refuses. Never throws on input. State goes
 * through {@link VerifierState} (put after each accepted frame); derived keys stay in memory only.
 */
import { createDecipheriv, createHash, hash, type KeyObject } from "node:crypto";
import type { Clock } from "../../kernel/clock.js";
import { chainStart } from "../chain.js";
import { RecentChain, reconcile } from "./checkpoint.js";
import { TAG_LEN, parseTopic, partitionOf, type CheckpointFrame, type DataFrame, type EndFrame, type Frame, type OpenFrame } from "../format.js";
import { deriveSessionKeys, importRecipientKey, nonceFromFrame, unwrapDataKey, type HpkePrivateKey, type SessionKeys } from "../keys.js";
import { parseFrame } from "../parse.js";
import { Reason, type ReasonCode } from "../reasons.js";
import { verifyEs256 } from "../signature.js";
import { addGap, fillGap, inGap, type SessionRecord, type VerifierState } from "./state.js";
import { GatewayTrust, type TrustOptions } from "./trust.js";

export { Reason, type ReasonCode } from "../reasons.js";
export { MemoryVerifierState, type SessionRecord, type VerifierState, type GapRange } from "./state.js";
export type { TrustOptions } from "./trust.js";

/** Options of {@link Verifier}. */
export interface VerifierOptions {
  trust: TrustOptions;
  /** Receiver's P-256 private key (HPKE recipient). */
  recipientPrivateKey: KeyObject;
  state: VerifierState;
  clock: Clock;
  /**
   * Oldest session-open accepted, as an age of its createdNs against the receiver's clock (default
   * {@link DEFAULT_MAX_BACKLOG_AGE_MS}). Older ones are refused CREATED_OUT_OF_RANGE: a certificate
   * that expired longer ago than this can no longer open a session by backdating it.
   */
  maxBacklogAgeMs?: number;
  /** How far a session-open's createdNs may be ahead of the receiver's clock (default {@link DEFAULT_MAX_CLOCK_SKEW_MS}). */
  maxClockSkewMs?: number;
  /**
   * The fleet's partition count P when this receiver reads the partitioned scheme (`otgw/v2/{p}/…`,
   * docs/topics.md). A v2 topic is accepted only if its partition is partitionOf(gatewayId, P); without
   * P every v2 topic is refused GATEWAY_MISMATCH.
   */
  partitions?: number;
}

/**
 * Seven days: a gateway offline for a week (a holiday shutdown, a unit in transit) still delivers its
 * backlog, and it equals the fleet CA's default gateway certificate lifetime (`otgw ca init
 * --cert-days 7`), so a leaked key is useless one certificate lifetime after its certificate expired.
 */
export const DEFAULT_MAX_BACKLOG_AGE_MS = 7 * 86_400_000;
/** Five minutes of clock skew between a gateway (NTP-synchronised) and the receiver. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;

interface Ids {
  gatewayId: string;
  stream: string;
  sessionId: string;
}

/** Result of accepting one frame. On ok results, the verifier has already called state.put. */
export type VerifyResult =
  | ({ ok: true; kind: "session-open"; certSha256: string; firstSeq: bigint } & Ids)
  | ({ ok: true; kind: "data"; seq: bigint; schemaId: string; sourceTsNs: bigint; gatewayTsNs: bigint; plaintext: Buffer; chain: Buffer; gap?: { from: bigint; to: bigint };
      /** Set when the frame filled a recorded gap (it arrived late, e.g. resent after a receipt named the gap). */
      filled?: true;
      /** Set when the session's end statement was accepted before this frame: the frame arrived after it. */
      afterEnd?: bigint } & Ids)
  | ({ ok: true; kind: "checkpoint"; index: number; lastSeq: bigint; final: boolean; chain: Buffer;
      /** The chains differ; `cause` "gap" when frames not received (yet) explain it all (a transport loss), "chain" otherwise (checkpoint.ts). */
      mismatch?: { reason: typeof Reason.CHECKPOINT_MISMATCH; detail: string; cause: "gap" | "chain" } } & Ids)
  | ({ ok: true; kind: "session-end"; lastSeq: bigint; receivedUpTo: bigint; certSha256: string;
      /** Seqs the gateway's queue committed that this receiver never accepted, when any. */
      missing?: { from: bigint; to: bigint };
      mismatch?: { reason: typeof Reason.CHECKPOINT_MISMATCH; detail: string } } & Ids)
  | { ok: false; reason: ReasonCode; detail: string; gatewayId?: string; stream?: string; sessionId?: string };

/** A refusal. */
export type VerifyFailure = Extract<VerifyResult, { ok: false }>;

/** In-memory per-session material: never persisted. */
interface Live {
  keys: SessionKeys;
  gatewayKey: KeyObject;
  serialHex: string;
  recent: RecentChain;
}

const LIVE_MAX = 4096;

/** Verifies envelope v1 frames for one receiver. */
export class Verifier {
  private readonly trust: GatewayTrust;
  private recipientKey: Promise<HpkePrivateKey> | undefined;
  private readonly live = new Map<string, Live>();

  constructor(private readonly opts: VerifierOptions) {
    this.trust = new GatewayTrust(opts.trust);
  }

  /** Verifies any frame; session-open frames and first frames after a restart need this async form. */
  async accept(topic: string, frame: Uint8Array): Promise<VerifyResult> {
    try {
      const pre = this.preflight(topic, frame);
      if ("ok" in pre) return pre;
      const { f, ids } = pre;
      if (f.type === 1) return await this.acceptOpen(f, frame, ids);
      if (f.type !== 4 && !this.live.has(ids.sessionId)) {
        const rec = this.opts.state.get(ids.sessionId);
        if (rec) {
          const restored = await this.restore(rec);
          if (!restored.ok) return restored;
        }
      }
      return this.acceptSyncParsed(f, frame, ids);
    } catch (err) {
      return internal(err);
    }
  }

  /** Synchronous verify for data and checkpoint frames of sessions whose keys are in memory; NEEDS_ASYNC otherwise. */
  acceptSync(topic: string, frame: Uint8Array): VerifyResult {
    try {
      const pre = this.preflight(topic, frame);
      if ("ok" in pre) return pre;
      return this.acceptSyncParsed(pre.f, frame, pre.ids);
    } catch (err) {
      return internal(err);
    }
  }

  private preflight(topic: string, frame: Uint8Array): VerifyFailure | { f: Frame; ids: Ids } {
    const p = parseFrame(frame);
    if (!p.ok) return { ok: false, reason: p.reason, detail: p.detail };
    const f = p.frame;
    const ids: Ids = { gatewayId: f.gatewayId, stream: f.stream, sessionId: f.sessionId.toString("hex") };
    const t = parseTopic(topic);
    if (!t) return fail(Reason.MALFORMED, `topic "${topic.slice(0, 200)}" is not otgw/v1/{gatewayId}/{stream} nor otgw/v2/{partition}/{gatewayId}/{stream}`, ids);
    if (t.gatewayId !== f.gatewayId) return fail(Reason.GATEWAY_MISMATCH, `topic gateway "${t.gatewayId}" differs from frame gatewayId "${f.gatewayId}"`, ids);
    if (t.stream !== f.stream) return fail(Reason.GATEWAY_MISMATCH, `topic stream "${t.stream}" differs from frame stream "${f.stream}"`, ids);
    if (t.partition !== undefined) {
      const P = this.opts.partitions;
      if (P === undefined) return fail(Reason.GATEWAY_MISMATCH, `topic partition ${t.partition}: this receiver is not configured for partitioned topics (give it the fleet's partition count)`, ids);
      const want = partitionOf(f.gatewayId, P);
      if (t.partition !== want) return fail(Reason.GATEWAY_MISMATCH, `topic partition ${t.partition}, but gateway "${f.gatewayId}" belongs to partition ${want} of ${P}: the gateway's uplink.partitions must equal the fleet's`, ids);
    }
    return { f, ids };
  }

  private acceptSyncParsed(f: Frame, frame: Uint8Array, ids: Ids): VerifyResult {
    if (f.type === 1) return fail(Reason.NEEDS_ASYNC, "session-open frames need accept() (HPKE unwrap is asynchronous)", ids);
    const rec = this.opts.state.get(ids.sessionId);
    if (!rec) return fail(Reason.UNKNOWN_SESSION, `${f.type === 2 ? "data" : f.type === 3 ? "checkpoint" : "session-end"} frame: session ${ids.sessionId} was never opened here`, ids);
    if (rec.gatewayId !== f.gatewayId || rec.stream !== f.stream) {
      return fail(Reason.GATEWAY_MISMATCH, `session ${ids.sessionId} belongs to ${rec.gatewayId}/${rec.stream}, frame says ${f.gatewayId}/${f.stream}`, ids);
    }
    // A session-end statement carries and is checked against its own certificate: no session keys needed.
    if (f.type === 4) return this.acceptEnd(f, frame, ids, rec);
    const live = this.live.get(ids.sessionId);
    if (!live) return fail(Reason.NEEDS_ASYNC, `keys of session ${ids.sessionId} are not in memory (receiver restarted): call accept()`, ids);
    if (this.trust.revoked(live.serialHex, f.gatewayId)) return fail(Reason.REVOKED, `certificate ${live.serialHex} of ${f.gatewayId} is revoked`, ids);
    return f.type === 2 ? this.acceptData(f, frame, ids, rec, live) : this.acceptCheckpoint(f, frame, ids, rec, live);
  }

  private async acceptOpen(f: OpenFrame, frame: Uint8Array, ids: Ids): Promise<VerifyResult> {
    const t = this.checkCertified(f, frame, ids, "session-open");
    if (!t.ok) return t;
    const { b, certSha256 } = t;
    if (this.opts.state.get(ids.sessionId)) return fail(Reason.REPLAY, `session-open frame: session ${ids.sessionId} was already opened`, ids);
    const when = this.checkCreated(f, ids);
    if (when) return when;
    let keys: SessionKeys;
    try {
      const dataKey = await unwrapDataKey(await this.recipient(), f.enc, f.wrappedKey, b.subarray(0, f.hpkeAadEnd));
      if (dataKey.length !== 32) return fail(Reason.KEY_UNWRAP_FAILURE, `session-open frame: unwrapped key is ${dataKey.length} bytes, expected 32`, ids);
      keys = deriveSessionKeys(dataKey, f.sessionId);
      dataKey.fill(0);
    } catch (err) {
      return fail(Reason.KEY_UNWRAP_FAILURE, `session-open frame: HPKE open failed (${err instanceof Error ? err.name : "error"}): not sealed to this receiver's key`, ids);
    }
    // Another accept() may have opened the same session (or a later one of the stream) while we awaited the unwrap.
    if (this.opts.state.get(ids.sessionId)) return fail(Reason.REPLAY, `session-open frame: session ${ids.sessionId} was already opened`, ids);
    const after = this.checkCreated(f, ids);
    if (after) return after;
    const openFrame = Buffer.from(b);
    const chain = chainStart(openFrame);
    const rec: SessionRecord = {
      sessionId: ids.sessionId, gatewayId: f.gatewayId, stream: f.stream, certSha256, openFrame, firstSeq: f.firstSeq, createdNs: f.createdNs,
      nextSeq: f.firstSeq, chain, chainBroken: false, lastCheckpointIndex: 0, closed: false, gaps: [], gapsTrimmedBelow: 0n,
    };
    this.remember(ids.sessionId, { keys, gatewayKey: t.publicKey, serialHex: t.serialHex, recent: new RecentChain() }).recent.push(f.firstSeq - 1n, chain);
    this.opts.state.put(rec);
    return { ok: true, kind: "session-open", ...ids, certSha256, firstSeq: f.firstSeq };
  }

  private acceptData(f: DataFrame, frame: Uint8Array, ids: Ids, rec: SessionRecord, live: Live): VerifyResult {
    const b = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    const nonce = Buffer.allocUnsafe(12);
    nonceFromFrame(nonce, live.keys.baseNonce, b, seqOffset(f));
    let plaintext: Buffer;
    try {
      const d = createDecipheriv("aes-256-gcm", live.keys.aeadKey, nonce);
      d.setAAD(b.subarray(0, f.aadEnd));
      d.setAuthTag(f.ciphertext.subarray(f.ciphertext.length - TAG_LEN));
      const head = d.update(f.ciphertext.subarray(0, f.ciphertext.length - TAG_LEN));
      const tail = d.final();
      plaintext = tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch {
      return fail(Reason.AEAD_FAILURE, `data frame seq ${f.seq}: AES-256-GCM authentication failed (header, ciphertext or tag altered)`, ids);
    }
    const seq = f.seq;
    if (seq < rec.nextSeq) {
      if (seq < rec.firstSeq) return fail(Reason.OUT_OF_ORDER, `data frame seq ${seq} is below the session's firstSeq ${rec.firstSeq}`, ids);
      if (inGap(rec, seq)) return this.acceptFill(f, ids, rec, seq, plaintext);
      if (seq < rec.gapsTrimmedBelow) return fail(Reason.REPLAY, `data frame seq ${seq} is below ${rec.nextSeq}; gap history there was trimmed, so it is a replay or a late message`, ids);
      return fail(Reason.REPLAY, `data frame seq ${seq} was already accepted`, ids);
    }
    if (rec.closed) return fail(Reason.SESSION_CLOSED, `data frame seq ${seq}: session ${ids.sessionId} was closed by its final checkpoint`, ids);
    if (rec.endSeq !== undefined && seq > rec.endSeq) {
      return fail(Reason.SESSION_CLOSED, `data frame seq ${seq}: the gateway stated that session ${ids.sessionId} ended at committed seq ${rec.endSeq}`, ids);
    }
    let next: SessionRecord;
    let gap: { from: bigint; to: bigint } | undefined;
    const chain = chainStep(rec.chain, b);
    if (seq > rec.nextSeq) {
      gap = { from: rec.nextSeq, to: seq - 1n };
      next = { ...rec, ...addGap(rec, gap), nextSeq: seq + 1n, chain, chainBroken: true };
    } else {
      next = { ...rec, nextSeq: seq + 1n, chain };
    }
    live.recent.push(seq, chain);
    this.opts.state.put(next);
    const ok: VerifyResult = { ok: true, kind: "data", ...ids, seq, schemaId: f.schemaId, sourceTsNs: f.sourceTsNs, gatewayTsNs: f.gatewayTsNs, plaintext, chain };
    if (gap) ok.gap = gap;
    if (rec.endSeq !== undefined) ok.afterEnd = rec.endSeq;
    return ok;
  }

  /**
   * A late frame of a recorded gap: authentic (AEAD checked) and never accepted, so it is accepted once
   * and leaves the gap. The chain is not advanced (it runs in seq order; the next checkpoint re-syncs).
   */
  private acceptFill(f: DataFrame, ids: Ids, rec: SessionRecord, seq: bigint, plaintext: Buffer): VerifyResult {
    this.opts.state.put({ ...rec, ...fillGap(rec, seq) });
    return { ok: true, kind: "data", ...ids, seq, schemaId: f.schemaId, sourceTsNs: f.sourceTsNs, gatewayTsNs: f.gatewayTsNs, plaintext, chain: rec.chain, filled: true };
  }

  /** The receipt MAC key of a session whose keys are in memory (receipts.ts), or undefined. */
  receiptKey(sessionIdHex: string): KeyObject | undefined {
    return this.live.get(sessionIdHex)?.keys.receiptKey;
  }

  private acceptCheckpoint(f: CheckpointFrame, frame: Uint8Array, ids: Ids, rec: SessionRecord, live: Live): VerifyResult {
    const b = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    if (!verifyEs256(live.gatewayKey, b.subarray(0, f.signedEnd), f.signature)) {
      return fail(Reason.BAD_SIGNATURE, `checkpoint frame ${f.index}: signature does not verify under certificate ${live.serialHex}`, ids);
    }
    if (f.index <= rec.lastCheckpointIndex) return fail(Reason.REPLAY, `checkpoint frame index ${f.index} is not above the last accepted index ${rec.lastCheckpointIndex}`, ids);
    if (rec.closed) return fail(Reason.SESSION_CLOSED, `checkpoint frame ${f.index}: session ${ids.sessionId} was closed by its final checkpoint`, ids);
    const r = reconcile(rec, f, live.recent);
    live.recent.push(r.record.nextSeq - 1n, r.record.chain);
    this.opts.state.put(r.record);
    const ok: VerifyResult = { ok: true, kind: "checkpoint", ...ids, index: f.index, lastSeq: f.lastSeq, final: f.final, chain: Buffer.from(f.chain) };
    if (r.mismatch !== undefined) ok.mismatch = { reason: Reason.CHECKPOINT_MISMATCH, detail: r.mismatch, cause: r.cause ?? "chain" };
    return ok;
  }

  /**
   * Session-end statement: the gateway's current key (its certificate travels in the frame, checked
   * like a session-open's) says where a session left open by an earlier run ended in its queue. Never
   * refused for disagreeing with what was received: the disagreement is returned as evidence.
   */
  private acceptEnd(f: EndFrame, frame: Uint8Array, ids: Ids, rec: SessionRecord): VerifyResult {
    const t = this.checkCertified(f, frame, ids, "session-end");
    if (!t.ok) return t;
    const { certSha256 } = t;
    if (rec.closed) return fail(Reason.SESSION_CLOSED, `session-end frame: session ${ids.sessionId} was closed by its final checkpoint`, ids);
    if (rec.endSeq !== undefined) return fail(Reason.REPLAY, `session-end frame: session ${ids.sessionId} already ended at seq ${rec.endSeq}`, ids);
    const receivedUpTo = rec.nextSeq - 1n;
    this.opts.state.put({ ...rec, endSeq: f.lastSeq });
    const ok: VerifyResult = { ok: true, kind: "session-end", ...ids, lastSeq: f.lastSeq, receivedUpTo, certSha256 };
    if (f.lastSeq > receivedUpTo) ok.missing = { from: receivedUpTo + 1n, to: f.lastSeq };
    else if (f.lastSeq < receivedUpTo) {
      ok.mismatch = { reason: Reason.CHECKPOINT_MISMATCH, detail: `session-end statement says the gateway committed up to seq ${f.lastSeq}, but the receiver accepted up to ${receivedUpTo}: the gateway lost commits it had already sent (power cut), or its queue file was replaced` };
    }
    return ok;
  }

  /**
   * What session-open and session-end frames both need before anything else: certSha256 matches the
   * certificate they carry, the certificate is trusted for the gateway (at createdNs or now), and the
   * frame's signature verifies under it.
   */
  private checkCertified(f: OpenFrame | EndFrame, frame: Uint8Array, ids: Ids, what: string): VerifyFailure | { ok: true; b: Buffer; certSha256: string; publicKey: KeyObject; serialHex: string } {
    const certHash = createHash("sha256").update(f.cert).digest();
    if (!certHash.equals(f.certSha256)) return fail(Reason.MALFORMED, `${what} frame: certSha256 is not the SHA-256 of cert`, ids);
    const certSha256 = certHash.toString("hex");
    const at = this.trust.validityAt === "now" ? this.opts.clock.nowMs() : Number(f.createdNs / 1_000_000n);
    const t = this.trust.check(f.cert, certSha256, f.gatewayId, at);
    if (!t.ok) return fail(t.reason, `${what} frame: ${t.detail}`, ids);
    const b = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    if (!verifyEs256(t.publicKey, b.subarray(0, f.signedEnd), f.signature)) {
      return fail(Reason.BAD_SIGNATURE, `${what} frame: signature does not verify under certificate ${t.serialHex}`, ids);
    }
    return { ok: true, b, certSha256, publicKey: t.publicKey, serialHex: t.serialHex };
  }

  /**
   * Bounds a session-open's createdNs (docs/envelope.md "Session time"): certificate validity is checked
   * at createdNs, so without a bound the holder of an expired certificate's key could backdate a new
   * session into its validity. Not earlier than now − maxBacklogAge, not earlier than the latest session
   * accepted for the same gateway and stream, not later than now + maxClockSkew.
   */
  private checkCreated(f: OpenFrame, ids: Ids): VerifyFailure | undefined {
    const nowNs = BigInt(this.opts.clock.nowMs()) * 1_000_000n;
    const maxAgeMs = this.opts.maxBacklogAgeMs ?? DEFAULT_MAX_BACKLOG_AGE_MS;
    const skewMs = this.opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
    const oldest = nowNs - BigInt(maxAgeMs) * 1_000_000n;
    if (f.createdNs < oldest) {
      return fail(Reason.CREATED_OUT_OF_RANGE, `session-open frame: createdNs ${nsText(f.createdNs)} is older than the receiver's maximum backlog age of ${maxAgeMs} ms (oldest accepted ${nsText(oldest)})`, ids);
    }
    if (f.createdNs > nowNs + BigInt(skewMs) * 1_000_000n) {
      return fail(Reason.CREATED_OUT_OF_RANGE, `session-open frame: createdNs ${nsText(f.createdNs)} is more than ${skewMs} ms ahead of the receiver's clock (${nsText(nowNs)})`, ids);
    }
    const latest = this.opts.state.latestCreatedNs(f.gatewayId, f.stream);
    if (latest !== undefined && f.createdNs < latest) {
      return fail(Reason.CREATED_OUT_OF_RANGE, `session-open frame: createdNs ${nsText(f.createdNs)} is earlier than that of a session already accepted for ${f.gatewayId}/${f.stream} (${nsText(latest)})`, ids);
    }
    return undefined;
  }

  /** Re-derives a stored session's keys from its pristine open frame (after a restart). */
  private async restore(rec: SessionRecord): Promise<VerifyFailure | { ok: true }> {
    const ids: Ids = { gatewayId: rec.gatewayId, stream: rec.stream, sessionId: rec.sessionId };
    const p = parseFrame(rec.openFrame);
    if (!p.ok || p.frame.type !== 1) return fail(Reason.MALFORMED, `stored session-open frame of ${rec.sessionId} does not parse: state corrupted`, ids);
    const f = p.frame;
    const at = this.trust.validityAt === "now" ? this.opts.clock.nowMs() : Number(f.createdNs / 1_000_000n);
    const t = this.trust.check(f.cert, rec.certSha256, f.gatewayId, at);
    if (!t.ok) return fail(t.reason, `stored session ${rec.sessionId}: ${t.detail}`, ids);
    try {
      const dataKey = await unwrapDataKey(await this.recipient(), f.enc, f.wrappedKey, rec.openFrame.subarray(0, f.hpkeAadEnd));
      const keys = deriveSessionKeys(dataKey, f.sessionId);
      dataKey.fill(0);
      if (!this.live.has(rec.sessionId)) this.remember(rec.sessionId, { keys, gatewayKey: t.publicKey, serialHex: t.serialHex, recent: new RecentChain() });
      return { ok: true };
    } catch {
      return fail(Reason.KEY_UNWRAP_FAILURE, `stored session ${rec.sessionId}: HPKE open failed with this receiver's key`, ids);
    }
  }

  private remember(id: string, l: Live): Live {
    // Bounded: evicted sessions are restored from state on their next frame.
    if (this.live.size >= LIVE_MAX) {
      const oldest = this.live.keys().next();
      if (!oldest.done) this.live.delete(oldest.value);
    }
    this.live.set(id, l);
    return l;
  }

  private recipient(): Promise<HpkePrivateKey> {
    this.recipientKey ??= importRecipientKey(this.opts.recipientPrivateKey);
    return this.recipientKey;
  }
}

function seqOffset(f: DataFrame): number {
  return 24 + 1 + f.gatewayId.length + 1 + f.stream.length;
}

/** h_i = SHA-256(h_{i-1} || frame), one-shot (same value as chain.ts chainNext). */
function chainStep(prev: Buffer, frame: Buffer): Buffer {
  return hash("sha256", Buffer.concat([prev, frame]), "buffer");
}

/** A ns timestamp for a detail: ISO 8601 when it is a representable date, and the raw value. */
function nsText(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return Math.abs(ms) <= 8.64e15 ? `${new Date(ms).toISOString()} (${ns} ns)` : `${ns} ns`;
}

function fail(reason: ReasonCode, detail: string, ids?: Ids): VerifyFailure {
  return ids ? { ok: false, reason, detail, ...ids } : { ok: false, reason, detail };
}

function internal(err: unknown): VerifyFailure {
  // Only a bug gets here; refuse the frame rather than crash the receiver.
  return { ok: false, reason: Reason.MALFORMED, detail: `verifier internal error: ${err instanceof Error ? err.message : String(err)}` };
}
