import type { Statement } from "better-sqlite3";
import { parseFrame } from "../envelope/parse.js";
import { streamKey, type SessionRecord, type VerifierState, type GapRange } from "../envelope/verify/state.js";
import type { IngestStore } from "./store.js";

interface Row {
  state: string;
  open_frame: Buffer;
}

interface Persisted {
  sessionId: string;
  gatewayId: string;
  stream: string;
  certSha256: string;
  firstSeq: string;
  /** The session-open's createdNs; absent in rows written before 2026-12 (then read from open_frame). */
  createdNs?: string;
  nextSeq: string;
  chain: string;
  chainBroken: boolean;
  lastCheckpointIndex: number;
  closed: boolean;
  gaps: Array<{ from: string; to: string }>;
  gapsTrimmedBelow: string;
  /** Present once a session-end statement was accepted. */
  endSeq?: string;
}

/**
 * The verifier's per-session state in the receiver's SQLite store. `put` only stages the record;
 * `flush()` writes the staged records and is called inside the same transaction as the verified row,
 * so the session's progress and the evidence it refers to are committed together.
 */
export class SqliteVerifierState implements VerifierState {
  private readonly cache = new Map<string, SessionRecord>();
  private readonly staged = new Map<string, SessionRecord>();
  /** Committed highest createdNs per (gateway, stream), filled from the table on first use. */
  private readonly latest = new Map<string, bigint | undefined>();
  private readonly sel: Statement;
  private readonly selStream: Statement;
  private readonly upsert: Statement;

  constructor(store: IngestStore) {
    this.sel = store.db.prepare("SELECT state, open_frame FROM sessions WHERE session_id = ?");
    this.selStream = store.db.prepare("SELECT state, open_frame FROM sessions WHERE gateway_id = ? AND stream = ?");
    this.upsert = store.db.prepare(
      `INSERT INTO sessions (session_id, gateway_id, stream, state, open_frame) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(session_id) DO UPDATE SET state = excluded.state`,
    );
  }

  get(sessionIdHex: string): SessionRecord | undefined {
    const hit = this.staged.get(sessionIdHex) ?? this.cache.get(sessionIdHex);
    if (hit) return hit;
    const row = this.sel.get(sessionIdHex) as Row | undefined;
    if (!row) return undefined;
    const rec = revive(JSON.parse(row.state) as Persisted, row.open_frame);
    this.cache.set(sessionIdHex, rec);
    return rec;
  }

  /** The record as last committed by flush() (never a staged one): what a receipt may state. */
  committed(sessionIdHex: string): SessionRecord | undefined {
    if (!this.cache.has(sessionIdHex)) this.get(sessionIdHex);
    return this.cache.get(sessionIdHex);
  }

  put(record: SessionRecord): void {
    this.staged.set(record.sessionId, record);
  }

  latestCreatedNs(gatewayId: string, stream: string): bigint | undefined {
    const key = streamKey(gatewayId, stream);
    let max = this.committedLatest(key, gatewayId, stream);
    for (const rec of this.staged.values()) {
      if (rec.gatewayId === gatewayId && rec.stream === stream && (max === undefined || rec.createdNs > max)) max = rec.createdNs;
    }
    return max;
  }

  private committedLatest(key: string, gatewayId: string, stream: string): bigint | undefined {
    if (this.latest.has(key)) return this.latest.get(key);
    let max: bigint | undefined;
    for (const row of this.selStream.all(gatewayId, stream) as Row[]) {
      const created = revive(JSON.parse(row.state) as Persisted, row.open_frame).createdNs;
      if (max === undefined || created > max) max = created;
    }
    this.latest.set(key, max);
    return max;
  }

  /** Writes staged records; call inside the store transaction that keeps the frame's outcome. */
  flush(): void {
    for (const rec of this.staged.values()) {
      const key = streamKey(rec.gatewayId, rec.stream);
      // Read the committed maximum before this write joins it (the lookup fills the map from the table).
      const before = this.committedLatest(key, rec.gatewayId, rec.stream);
      this.upsert.run(rec.sessionId, rec.gatewayId, rec.stream, JSON.stringify(persist(rec)), rec.openFrame);
      this.cache.set(rec.sessionId, rec);
      if (before === undefined || rec.createdNs > before) this.latest.set(key, rec.createdNs);
    }
    this.staged.clear();
  }

  /** Drops staged records (their transaction failed): the broker redelivers the frame. */
  discard(): void {
    this.staged.clear();
  }
}

function persist(r: SessionRecord): Persisted {
  const p: Persisted = {
    sessionId: r.sessionId, gatewayId: r.gatewayId, stream: r.stream, certSha256: r.certSha256, firstSeq: r.firstSeq.toString(), createdNs: r.createdNs.toString(),
    nextSeq: r.nextSeq.toString(), chain: r.chain.toString("hex"), chainBroken: r.chainBroken, lastCheckpointIndex: r.lastCheckpointIndex,
    closed: r.closed, gaps: r.gaps.map((g) => ({ from: g.from.toString(), to: g.to.toString() })), gapsTrimmedBelow: r.gapsTrimmedBelow.toString(),
  };
  if (r.endSeq !== undefined) p.endSeq = r.endSeq.toString();
  return p;
}

function revive(p: Persisted, openFrame: Buffer): SessionRecord {
  const gaps: GapRange[] = p.gaps.map((g) => ({ from: BigInt(g.from), to: BigInt(g.to) }));
  const rec: SessionRecord = {
    sessionId: p.sessionId, gatewayId: p.gatewayId, stream: p.stream, certSha256: p.certSha256, openFrame, firstSeq: BigInt(p.firstSeq), createdNs: createdOf(p, openFrame),
    nextSeq: BigInt(p.nextSeq), chain: Buffer.from(p.chain, "hex"), chainBroken: p.chainBroken, lastCheckpointIndex: p.lastCheckpointIndex,
    closed: p.closed, gaps, gapsTrimmedBelow: BigInt(p.gapsTrimmedBelow),
  };
  return p.endSeq === undefined ? rec : { ...rec, endSeq: BigInt(p.endSeq) };
}

/** createdNs of a persisted session: from the state, or (rows written before it was kept) from the stored session-open frame. */
function createdOf(p: Persisted, openFrame: Buffer): bigint {
  if (p.createdNs !== undefined) return BigInt(p.createdNs);
  const f = parseFrame(openFrame);
  return f.ok && f.frame.type === 1 ? f.frame.createdNs : 0n;
}
