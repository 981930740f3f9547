import type { KeyObject } from "node:crypto";
import type { Logger } from "../../kernel/log.js";
import { errorText } from "../../kernel/errors.js";
import { SessionSealer, type SealerOptions } from "../../envelope/sealer.js";
import type { Outbox } from "./outbox.js";

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

  constructor(private readonly o: SessionsOptions) {}

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
    if (st.sealer === null || st.opening !== null) {
      st.pending.push({ plaintext, schemaId, sourceTsNs });
      this.ensureOpen(stream, st);
      return;
    }
    this.sealInto(stream, st, st.sealer, plaintext, schemaId, sourceTsNs);
  }

  /** Emits time-based checkpoints for streams that went quiet. Call from a timer. */
  tick(): void {
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
    let closed = 0;
    for (const [stream, st] of this.streams) {
      if (!st.sealer) continue;
      this.checkpoint(stream, st, st.sealer, true);
      st.sealer = null;
      closed++;
    }
    return closed;
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
