/**
 * Receiver state per session, behind a small synchronous interface so the ingest service can keep it
 * in SQLite (better-sqlite3 is synchronous) and a restart resumes exactly where it stopped. Keys are
 * never stored: the pristine session-open frame is, and the receiver re-derives keys from it with its
 * private key after a restart.
 */

/**
 * Inclusive range of seqs skipped by a gap: not accepted (yet). A frame of such a seq that arrives
 * later (a gateway's resend after a receipt named the gap) is accepted once and leaves the range.
 */
export interface GapRange {
  from: bigint;
  to: bigint;
}

/** Most gap ranges kept per session; older ones are dropped (see {@link SessionRecord.gapsTrimmedBelow}). */
export const MAX_GAP_RANGES = 256;

/** Everything the verifier needs to continue a session. Treated as immutable: each change is a new object. */
export interface SessionRecord {
  /** Session id, 32 hex characters (the key of the store). */
  readonly sessionId: string;
  readonly gatewayId: string;
  readonly stream: string;
  /** SHA-256 of the gateway certificate DER, hex. */
  readonly certSha256: string;
  /** The session-open frame exactly as received (verified). */
  readonly openFrame: Buffer;
  readonly firstSeq: bigint;
  /** The session-open's createdNs (ns since the epoch): the floor for later sessions of the same gateway and stream. */
  readonly createdNs: bigint;
  /** One past the highest accepted data seq (firstSeq when none yet). */
  readonly nextSeq: bigint;
  /** Receiver's chain value at nextSeq - 1. */
  readonly chain: Buffer;
  /** True after a gap or checkpoint disagreement, until a checkpoint re-syncs the chain. */
  readonly chainBroken: boolean;
  /** Index of the last accepted checkpoint (0 = none). */
  readonly lastCheckpointIndex: number;
  /** A final checkpoint was accepted: later data and checkpoints are refused. */
  readonly closed: boolean;
  /** Skipped ranges, ascending, at most MAX_GAP_RANGES. */
  readonly gaps: readonly GapRange[];
  /** Seqs below this value lost their gap history when ranges were trimmed (0n = nothing trimmed). */
  readonly gapsTrimmedBelow: bigint;
  /**
   * Set by an accepted session-end statement: the highest data seq the gateway's queue committed in
   * this session. Data above it is refused (SESSION_CLOSED); data up to it is still accepted in order.
   */
  readonly endSeq?: bigint;
}

/**
 * Pluggable persistence. The verifier calls `get` before and `put` after every accepted frame,
 * synchronously, before accept() returns; rejected frames never call `put`. A store that wants the
 * record and the verified data in one transaction can buffer `put` and write both in its commit.
 */
export interface VerifierState {
  /** The record of `sessionIdHex`, or undefined if the session was never opened here. */
  get(sessionIdHex: string): SessionRecord | undefined;
  /** Stores the new record of a session (replaces the previous one). */
  put(record: SessionRecord): void;
  /** Highest createdNs of the sessions opened here for (gatewayId, stream), or undefined if none. */
  latestCreatedNs(gatewayId: string, stream: string): bigint | undefined;
}

/** In-memory VerifierState: tests, benchmarks, and receivers that accept losing state on restart. */
export class MemoryVerifierState implements VerifierState {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly latest = new Map<string, bigint>();

  /** {@inheritDoc VerifierState.get} */
  get(sessionIdHex: string): SessionRecord | undefined {
    return this.sessions.get(sessionIdHex);
  }

  /** {@inheritDoc VerifierState.put} */
  put(record: SessionRecord): void {
    this.sessions.set(record.sessionId, record);
    const key = streamKey(record.gatewayId, record.stream);
    const seen = this.latest.get(key);
    if (seen === undefined || record.createdNs > seen) this.latest.set(key, record.createdNs);
  }

  /** {@inheritDoc VerifierState.latestCreatedNs} */
  latestCreatedNs(gatewayId: string, stream: string): bigint | undefined {
    return this.latest.get(streamKey(gatewayId, stream));
  }

  /** Number of sessions held. */
  get size(): number {
    return this.sessions.size;
  }
}

/** Map key of a (gatewayId, stream): "/" is not an id character, so the key is unambiguous. */
export function streamKey(gatewayId: string, stream: string): string {
  return `${gatewayId}/${stream}`;
}

/** Adds a skipped range, keeping at most MAX_GAP_RANGES (dropping the oldest). */
export function addGap(rec: SessionRecord, gap: GapRange): Pick<SessionRecord, "gaps" | "gapsTrimmedBelow"> {
  const gaps = [...rec.gaps, gap];
  let trimmed = rec.gapsTrimmedBelow;
  while (gaps.length > MAX_GAP_RANGES) {
    const dropped = gaps.shift();
    if (dropped) trimmed = dropped.to + 1n;
  }
  return { gaps, gapsTrimmedBelow: trimmed };
}

/** True if `seq` lies in a recorded gap (skipped, never accepted). */
export function inGap(rec: SessionRecord, seq: bigint): boolean {
  for (const g of rec.gaps) if (seq >= g.from && seq <= g.to) return true;
  return false;
}

/** Removes `seq` from the recorded gaps (a late frame filled it), splitting its range if needed. */
export function fillGap(rec: SessionRecord, seq: bigint): Pick<SessionRecord, "gaps"> {
  const gaps: GapRange[] = [];
  for (const g of rec.gaps) {
    if (seq < g.from || seq > g.to) gaps.push(g);
    else {
      if (g.from < seq) gaps.push({ from: g.from, to: seq - 1n });
      if (seq < g.to) gaps.push({ from: seq + 1n, to: g.to });
    }
  }
  return { gaps };
}
