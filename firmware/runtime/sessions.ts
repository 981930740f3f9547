import { X509Certificate, type KeyObject } from "node:crypto";
import type { Logger } from "../../kernel/log.js";
import { errorText } from "../../kernel/errors.js";
import { SessionSealer, type SealerOptions } from "../../envelope/sealer.js";
import type { Outbox } from "./outbox.js";
import type { HeldReadings } from "./held-readings.js";

/** What the sessions report about records held for a valid certificate (the gateway logs and audits it). */
export type HoldEvent =
  | { kind: "holding"; reason: "expired" | "not-yet-valid"; certSerial: string; validFrom: string; validTo: string }
  | { kind: "released"; records: number }
  | { kind: "dropped"; stream: string; bytes: number };

/** The sealer's options for every stream (the stream itself varies per session), plus the wiring. */
export interface SessionsOptions extends Omit<SealerOptions, "stream" | "firstSeq" | "random"> {
  /** A session is closed and a new one opened after this many data messages. */
  sessionMaxMessages: number;
  outbox: Outbox;
  /** MQTT topic of a stream (docs/topics.md). Asked once per stream: the answer must not change. */
  topicFor(stream: string): string;
  /** Outbox priority of a stream; asked once per stream, like topicFor. */
  priorityOf(stream: string): number;
  /** Called once per opened session (the gateway audits it and keeps its receipt key), before any of its frames is queued. */
  onSessionOpened(stream: string, sessionIdHex: string, receiptKey: KeyObject): void;
  /**
   * Where records wait, on disk, while the certificate is not valid now: no session is ever opened
   * under such a certificate (a receiver would refuse it). Absent: records wait in memory (tests).
   */
  held?: HeldReadings;
  /** Holding started (once per episode), held records were released, or one could not be held. */
  onHold?(e: HoldEvent): void;
  logger: Logger;
}

interface Pending {
  plaintext: Buffer;
  schemaId: string;
  sourceTsNs: bigint;
}

interface StreamState {
  /** topicFor and priorityOf of this stream, looked up once instead of per frame. */
  topic: string;
  priority: number;
  sealer: SessionSealer | null;
  opening: Promise<void> | null;
  pending: Pending[];
}

function validityOf(certDer: Buffer): { from: number; to: number; serial: string; validFrom: string; validTo: string } {
  const c = new X509Certificate(certDer);
  return { from: Date.parse(c.validFrom), to: Date.parse(c.validTo), serial: c.serialNumber, validFrom: c.validFrom, validTo: c.validTo };
}

/**
 * One envelope session per stream. Sealing is synchronous; opening a session (HPKE wrap + a
 * signature that may take a TPM tens of milliseconds) is not, so records that arrive meanwhile wait
 * in memory in order and are sealed as soon as the session-open frame is in the outbox.
 */
export class StreamSessions {
  private readonly streams = new Map<string, StreamState>();
  private closed = false;
  /** Data frames sealed, per stream. */
  readonly sealed = new Map<string, number>();
  /** The certificate's validity (epoch ms) and serial, for the "valid now" gate. */
  private validity: { from: number; to: number; serial: string; validFrom: string; validTo: string };
  /** Held records are being sealed into new sessions (new ones are held behind them, in order). */
  private releasing: Promise<void> | null = null;
  /** Highest held id submitted for sealing but not yet released from the held store. */
  private heldCursor = 0;
  private holdingReported = false;
  private stopRelease = false;

  constructor(private readonly o: SessionsOptions) {
    this.validity = validityOf(o.certDer);
  }

  /** True when the certificate in use is valid at the sessions' clock now. */
  certValidNow(): boolean {
    const now = this.o.clock.nowMs();
    return now >= this.validity.from && now <= this.validity.to;
  }

  /** Records held on disk for a valid certificate. */
  get held(): number {
    return this.o.held?.size ?? 0;
  }

  /** Records waiting in memory for their stream's session to open. */
  get waiting(): number {
    let n = 0;
    for (const st of this.streams.values()) n += st.pending.length;
    return n;
  }

  /** Seals one record into its stream's session (opening one first if needed). */
  submit(stream: string, plaintext: Buffer, schemaId: string, sourceTsNs: bigint): void {
    if (this.closed) return;
    const st = this.state(stream);
    const held = this.o.held;
    // Behind records already held (order), or when this record would need a session that the
    // certificate cannot open now: held on disk. A session opened under a valid certificate goes on.
    if (held && (this.releasing !== null || held.size > 0 || (st.sealer === null && st.opening === null && !this.certValidNow()))) {
      this.hold(held, stream, plaintext, schemaId, sourceTsNs);
      return;
    }
    this.submitNow(stream, st, plaintext, schemaId, sourceTsNs);
  }

  private submitNow(stream: string, st: StreamState, plaintext: Buffer, schemaId: string, sourceTsNs: bigint): void {
    if (st.sealer === null || st.opening !== null) {
      st.pending.push({ plaintext, schemaId, sourceTsNs });
      this.ensureOpen(stream, st);
      return;
    }
    this.sealInto(stream, st, st.sealer, plaintext, schemaId, sourceTsNs);
  }

  /** Emits time-based checkpoints for streams that went quiet. Call from a timer. */
  tick(): void {
    this.releaseHeld();
    for (const [stream, st] of this.streams) {
      if (st.sealer && st.opening === null && st.sealer.checkpointDue()) this.checkpoint(stream, st, st.sealer, false);
    }
  }

  /**
   * The gateway's identity changed (renewal or key rotation): every open session is closed with a final
   * checkpoint signed by the key that opened it, and the next record of each stream opens a new session
   * signed by `signer` and carrying `certDer`. Sessions never span two certificates, so each session
   * verifies against exactly the certificate it names, also at a receiver that checks validity "now".
   * Returns the number of sessions closed.
   */
  async setIdentity(signer: SessionsOptions["signer"], certDer: Buffer): Promise<number> {
    await this.settle();
    this.o.signer = signer;
    this.o.certDer = certDer;
    this.validity = validityOf(certDer);
    let closed = 0;
    for (const [stream, st] of this.streams) {
      if (!st.sealer) continue;
      this.checkpoint(stream, st, st.sealer, true);
      st.sealer = null;
      closed++;
    }
    this.releaseHeld();
    return closed;
  }

  /** Resolves when no held records are being released (tests, stop). */
  async heldSettled(): Promise<void> {
    while (this.releasing) await this.releasing;
  }

  private hold(held: HeldReadings, stream: string, plaintext: Buffer, schemaId: string, sourceTsNs: bigint): void {
    if (!this.holdingReported && this.releasing === null && !this.certValidNow()) {
      this.holdingReported = true;
      const v = this.validity;
      this.o.onHold?.({ kind: "holding", reason: this.o.clock.nowMs() > v.to ? "expired" : "not-yet-valid", certSerial: v.serial, validFrom: v.validFrom, validTo: v.validTo });
    }
    if (!held.add(stream, schemaId, sourceTsNs, plaintext)) this.o.onHold?.({ kind: "dropped", stream, bytes: plaintext.length });
  }

  /**
   * Seals the held records, oldest first, into sessions opened under the (now valid) certificate, and
   * forgets each batch only once its frames are in the queue. Records arriving meanwhile are held
   * behind them. A crash in between re-seals the batch at the next start (at-least-once for held
   * records, docs/queue.md "Held readings").
   */
  private releaseHeld(): void {
    const held = this.o.held;
    if (!held || this.releasing !== null || this.stopRelease || this.closed || held.size === 0 || !this.certValidNow()) return;
    const run = async (): Promise<void> => {
      let released = 0;
      let reported = false;
      for (;;) {
        if (this.stopRelease || this.closed || !this.certValidNow()) break;
        const batch = held.next(this.heldCursor, 512);
        const last = batch.at(-1);
        if (last === undefined) {
          // Reported once, when the held records are all queued; the report is an audit entry, which
          // itself is held behind this release, so one more round takes it along.
          if (released > 0 && !reported) {
            reported = true;
            this.o.onHold?.({ kind: "released", records: released });
            continue;
          }
          break;
        }
        for (const r of batch) this.submitNow(r.stream, this.state(r.stream), r.plaintext, r.schemaId, r.sourceTsNs);
        this.heldCursor = last.id;
        await this.settle();
        // A session that could not open keeps its records in memory: they are still held on disk
        // too, so they are not forgotten; this run stops and the next tick tries again.
        if (this.waiting > 0) break;
        await this.o.outbox.drained();
        held.release(last.id);
        released += batch.length;
      }
      if (held.size === 0) this.holdingReported = false;
    };
    this.releasing = run().catch((err: unknown) => {
      this.o.logger.error({ err: errorText(err) }, "could not release held records; the next tick retries");
    }).finally(() => { this.releasing = null; });
  }

  /** Resolves when no session is being opened (every record submitted so far is sealed). */
  async settle(): Promise<void> {
    for (;;) {
      const openings = [...this.streams.values()].flatMap((s) => (s.opening ? [s.opening] : []));
      if (openings.length === 0) return;
      await Promise.all(openings);
    }
  }

  /** Seals what is pending and closes every session with a final signed checkpoint. */
  async closeAll(): Promise<void> {
    // A release in progress finishes its batch; what is still held stays on disk for the next start.
    this.stopRelease = true;
    await this.heldSettled();
    await this.settle();
    this.closed = true;
    for (const [stream, st] of this.streams) {
      if (st.sealer) this.checkpoint(stream, st, st.sealer, true);
      st.sealer = null;
    }
  }

  private state(stream: string): StreamState {
    let st = this.streams.get(stream);
    if (!st) {
      st = { topic: this.o.topicFor(stream), priority: this.o.priorityOf(stream), sealer: null, opening: null, pending: [] };
      this.streams.set(stream, st);
    }
    return st;
  }

  private sealInto(stream: string, st: StreamState, sealer: SessionSealer, plaintext: Buffer, schemaId: string, ts: bigint): void {
    const frame = sealer.seal(plaintext, schemaId, ts);
    this.o.outbox.push({ stream, topic: st.topic, priority: st.priority, data: true, payload: frame });
    this.sealed.set(stream, (this.sealed.get(stream) ?? 0) + 1);
    if (sealer.counters.sealed >= this.o.sessionMaxMessages) {
      // Rotate: close this session and let the next record open a fresh one (new key, new nonces).
      this.checkpoint(stream, st, sealer, true);
      st.sealer = null;
    } else if (sealer.checkpointDue()) {
      this.checkpoint(stream, st, sealer, false);
    }
  }

  private checkpoint(stream: string, st: StreamState, sealer: SessionSealer, final: boolean): void {
    this.o.outbox.pushPending(
      { stream, topic: st.topic, priority: st.priority, data: false },
      sealer.checkpoint(final),
    );
  }

  private ensureOpen(stream: string, st: StreamState): void {
    if (st.opening !== null) return;
    const o = this.o;
    if (o.held && !this.certValidNow()) {
      // Never open a session under a certificate that is not valid now: what waits for one is held.
      for (const p of st.pending.splice(0)) this.hold(o.held, stream, p.plaintext, p.schemaId, p.sourceTsNs);
      return;
    }
    const opening = SessionSealer.open({
      gatewayId: o.gatewayId, stream, signer: o.signer, certDer: o.certDer, recipientPublicKey: o.recipientPublicKey, clock: o.clock,
      checkpointEveryMessages: o.checkpointEveryMessages, checkpointEveryMs: o.checkpointEveryMs,
    });
    // The open frame's slot is reserved now, so it precedes every data frame of the session.
    o.outbox.pushPending({ stream, topic: st.topic, priority: st.priority, data: false }, opening.then((s) => s.openFrame));
    st.opening = opening.then(
      (sealer) => {
        st.opening = null;
        st.sealer = sealer;
        try {
          o.onSessionOpened(stream, sealer.sessionIdHex, sealer.receiptKey);
        } catch (err) {
          // Reporting the session must never stop its records from being sealed.
          o.logger.error({ stream, err: errorText(err) }, "could not record the opened session");
        }
        const queued = st.pending.splice(0);
        for (const p of queued) {
          if (st.sealer === null) {
            // Rotation happened inside this batch: the rest waits for the next session.
            st.pending.push(p);
            continue;
          }
          this.sealInto(stream, st, st.sealer, p.plaintext, p.schemaId, p.sourceTsNs);
        }
        if (st.pending.length > 0) this.ensureOpen(stream, st);
      },
      (err: unknown) => {
        st.opening = null;
        o.logger.error({ stream, err: errorText(err) }, "cannot open an envelope session; records wait and the next record retries");
      },
    );
  }
}
