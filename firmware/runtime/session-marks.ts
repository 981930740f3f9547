/**
 * Exact loss accounting across gateway restarts (docs/envelope.md "Session-end", docs/queue.md
 * "Marks"). Every queue commit also records, per open envelope session, the highest data seq it has
 * committed (a queue mark, same transaction as the frames); a final checkpoint's commit deletes the
 * mark. So after a SIGKILL or power cut the marks name exactly the sessions the dead process left
 * open and where each ended in the queue. At the next start the gateway signs one session-end
 * statement per mark, enqueues them and deletes the marks in one transaction: each old session is
 * announced exactly once, after its own queued frames (same stream, same class, higher ids).
 */
import type { Clock } from "../../kernel/clock.js";
import type { Logger } from "../../kernel/log.js";
import { errorText } from "../../kernel/errors.js";
import type { Signer } from "../../kernel/keystore.js";
import { FLAG_FINAL, FrameType } from "../../envelope/format.js";
import { signSessionEnd } from "../../envelope/sealer.js";
import type { MarkUpdate, NewQueueItem, Queue } from "../queue/queue.js";

const PREFIX = "envelope-session/";

/** Queue mark name of a session: `envelope-session/<stream>/<sessionIdHex>`. */
export function sessionMarkName(stream: string, sessionIdHex: string): string {
  return `${PREFIX}${stream}/${sessionIdHex}`;
}

/** The stream and session of a mark name, or undefined if the mark is not a session mark. */
export function parseSessionMark(name: string): { stream: string; sessionIdHex: string } | undefined {
  const m = /^envelope-session\/([A-Za-z0-9._-]{1,64})\/([0-9a-f]{32})$/.exec(name);
  return m ? { stream: m[1]!, sessionIdHex: m[2]! } : undefined;
}

/**
 * The mark changes a batch of sealed frames brings: session-open → firstSeq − 1, data → its seq (the
 * last one wins: seqs rise inside a session), final checkpoint → delete (a closed session needs none).
 * On the sealing path (every commit): a few fixed-offset reads per frame, a string only per session run.
 */
export function sessionMarks(batch: ReadonlyArray<{ stream: string; payload: Buffer }>): MarkUpdate | undefined {
  const set = new Map<string, bigint>();
  const del: string[] = [];
  // Per stream (streams interleave in a batch): its current session's id as four words, the mark
  // name, and the session's last data or open frame so far (its seq is read once, at the end).
  const runs = new Map<string, Run>();
  const flush = (r: Run): void => {
    const b = r.last;
    if (!b) return;
    const g = b[24] ?? 0;
    const v = b.readBigUInt64BE(26 + g + (b[25 + g] ?? 0));
    set.set(r.name, b[5] === FrameType.DATA ? v : v - 1n);
    r.last = undefined;
  };
  for (const it of batch) {
    const b = it.payload;
    if (b.length < 26) continue;
    let r = runs.get(it.stream);
    if (!r || b.readUInt32BE(8) !== r.w0 || b.readUInt32BE(12) !== r.w1 || b.readUInt32BE(16) !== r.w2 || b.readUInt32BE(20) !== r.w3) {
      if (r) flush(r);
      r = { w0: b.readUInt32BE(8), w1: b.readUInt32BE(12), w2: b.readUInt32BE(16), w3: b.readUInt32BE(20), name: sessionMarkName(it.stream, b.toString("hex", 8, 24)), last: undefined };
      runs.set(it.stream, r);
    }
    const type = b[5];
    if (type === FrameType.DATA || type === FrameType.OPEN) {
      const g = b[24] ?? 0;
      if (b.length >= 26 + g + (b[25 + g] ?? 0) + 8) r.last = b;
    } else if (type === FrameType.CHECKPOINT && ((b[6] ?? 0) & FLAG_FINAL) !== 0) {
      r.last = undefined;
      set.delete(r.name);
      del.push(r.name);
    }
  }
  for (const r of runs.values()) flush(r);
  if (set.size === 0 && del.length === 0) return undefined;
  return del.length === 0 ? { set } : { set, delete: del };
}

interface Run {
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  name: string;
  last: Buffer | undefined;
}

export interface AnnounceOptions {
  queue: Queue;
  gatewayId: string;
  signer: Signer;
  certDer: Buffer;
  clock: Clock;
  topicFor(stream: string): string;
  priorityOf(stream: string): number;
  logger: Logger;
}

/** What announceEndedSessions did: the statements committed, or why none could be. */
export interface Announced {
  ended: Array<{ stream: string; sessionId: string; lastSeq: bigint }>;
  /** Set when signing or committing failed: how many sessions wait for the next start, and why. */
  failed?: { sessions: number; error: string };
}

/**
 * Signs a session-end statement for every session an earlier run left open (its queue mark) and
 * commits the statements with the marks' deletion in one transaction. Call at start, before any new
 * session's frame is enqueued. On failure the marks stay and the next start tries again (the caller
 * audits `failed`).
 */
export async function announceEndedSessions(o: AnnounceOptions): Promise<Announced> {
  const ended: Array<{ name: string; stream: string; sessionId: string; lastSeq: bigint }> = [];
  for (const [name, lastSeq] of o.queue.marks()) {
    const m = parseSessionMark(name);
    if (m) ended.push({ name, stream: m.stream, sessionId: m.sessionIdHex, lastSeq });
  }
  if (ended.length === 0) return { ended: [] };
  try {
    const items: NewQueueItem[] = [];
    for (const e of ended) {
      const payload = await signSessionEnd({ gatewayId: o.gatewayId, stream: e.stream, sessionIdHex: e.sessionId, lastSeq: e.lastSeq, signer: o.signer, certDer: o.certDer, clock: o.clock });
      items.push({ stream: e.stream, topic: o.topicFor(e.stream), priority: o.priorityOf(e.stream), control: true, payload });
    }
    o.queue.enqueue(items, { delete: ended.map((e) => e.name) });
  } catch (err) {
    o.logger.error({ sessions: ended.length, err: errorText(err) }, "could not announce where the sessions of the previous run ended; the next start tries again (the receiver reports them as unclosed meanwhile)");
    return { ended: [], failed: { sessions: ended.length, error: errorText(err) } };
  }
  return { ended: ended.map(({ stream, sessionId, lastSeq }) => ({ stream, sessionId, lastSeq })) };
}
