/**
 * Receiver-side checkpoint reconciliation, pure: compares an authentic checkpoint with what the
 * receiver accepted and returns the new session record plus any mismatch evidence. Deletion,
 * reordering and truncation all surface here as CHECKPOINT_MISMATCH.
 */
import type { CheckpointFrame } from "../format.js";
import { addGap, type SessionRecord } from "./state.js";

/** Chain values of recently accepted seqs (memory only), so a checkpoint that arrives after data sealed past its snapshot still matches. */
export class RecentChain {
  private readonly seqs: bigint[] = [];
  private readonly chains: Buffer[] = [];
  constructor(private readonly capacity = 256) {}

  /**
   * Records the chain value at `seq`. A seq already at the tail (a checkpoint re-syncing the chain at
   * the last accepted seq) replaces that entry: a duplicate would take a slot and push the oldest seq
   * out of the promised window of `capacity` distinct seqs.
   */
  push(seq: bigint, chain: Buffer): void {
    const last = this.seqs.length - 1;
    if (last >= 0 && this.seqs[last] === seq) {
      this.chains[last] = chain;
      return;
    }
    if (this.seqs.length >= this.capacity) {
      this.seqs.shift();
      this.chains.shift();
    }
    this.seqs.push(seq);
    this.chains.push(chain);
  }

  /** Chain value at `seq`, if still held. */
  at(seq: bigint): Buffer | undefined {
    for (let i = this.seqs.length - 1; i >= 0; i--) if (this.seqs[i] === seq) return this.chains[i];
    return undefined;
  }
}

/** Result of reconciling one checkpoint. */
export interface Reconciled {
  record: SessionRecord;
  mismatch?: string;
  /**
   * "gap": every difference is explained by seqs the receiver has not received (yet): its chain was
   * broken by a recorded gap, or the checkpoint covers seqs it has not seen. A transport loss (the
   * gateway resends what a receipt names missing; GAP_FILLED follows), not evidence of tampering: the
   * missing frames are reported by their gap until they arrive. "chain": the chains differ with nothing
   * missing in between: frames deleted, altered or reordered.
   */
  cause?: "gap" | "chain";
}

/** "seq 3..3, 7..9" of the recorded gaps up to `upTo`. */
function gapText(rec: SessionRecord, upTo: bigint): string {
  const gs = rec.gaps.filter((g) => g.from <= upTo).map((g) => `${g.from}..${g.to}`);
  return gs.length > 0 ? `seq ${gs.slice(0, 8).join(", ")}${gs.length > 8 ? `, … (${gs.length} ranges)` : ""}` : "an earlier gap (since filled)";
}

const TRANSPORT = "a transport loss, not evidence of tampering: the gateway resends what a receipt names missing (GAP_FILLED when it arrives); what never arrives stays reported by its gap";

/** Applies an authentic, not-replayed checkpoint to `rec`. */
export function reconcile(rec: SessionRecord, cp: CheckpointFrame, recent: RecentChain | undefined): Reconciled {
  const problems: string[] = [];
  let gapOnly = true;
  let next: SessionRecord = { ...rec, lastCheckpointIndex: cp.index, closed: rec.closed || cp.final };
  if (cp.index !== rec.lastCheckpointIndex + 1) {
    problems.push(`checkpoint index ${cp.index} follows ${rec.lastCheckpointIndex}: ${cp.index - rec.lastCheckpointIndex - 1} checkpoint(s) missing`);
    gapOnly = false;
  }
  const lastAccepted = rec.nextSeq - 1n;
  if (cp.lastSeq === lastAccepted) {
    if (!cp.chain.equals(rec.chain)) {
      // A chain broken by a gap cannot match: the difference is the frames not received (in order).
      if (rec.chainBroken) problems.push(`chain at seq ${cp.lastSeq} not comparable: the receiver's chain is broken by ${gapText(rec, cp.lastSeq)} not received in order; ${TRANSPORT}`);
      else {
        problems.push(`chain at seq ${cp.lastSeq} differs from the receiver's: frames deleted, altered or reordered`);
        gapOnly = false;
      }
    }
    // The checkpoint is authentic: continue from its value so later frames are checked again.
    next = { ...next, chain: Buffer.from(cp.chain), chainBroken: false };
  } else if (cp.lastSeq < lastAccepted) {
    const ours = recent?.at(cp.lastSeq);
    if (!ours) problems.push(`checkpoint covers up to seq ${cp.lastSeq} but the receiver is already at ${lastAccepted} and no longer holds its chain value there`);
    else if (!ours.equals(cp.chain)) problems.push(`chain at seq ${cp.lastSeq} differs from the receiver's: frames deleted, altered or reordered`);
    gapOnly = false;
  } else {
    problems.push(`checkpoint covers up to seq ${cp.lastSeq} but the receiver accepted only up to ${lastAccepted}: seq ${lastAccepted + 1n}..${cp.lastSeq} not received (yet); ${TRANSPORT}`);
    // Skip to the checkpoint: the missing seqs become a gap (accepted once if they arrive late) and the
    // chain continues from the authentic value, so frames after it are verifiable again.
    next = { ...next, ...addGap(rec, { from: rec.nextSeq, to: cp.lastSeq }), nextSeq: cp.lastSeq + 1n, chain: Buffer.from(cp.chain), chainBroken: false };
  }
  return problems.length > 0 ? { record: next, mismatch: problems.join("; "), cause: gapOnly ? "gap" : "chain" } : { record: next };
}
