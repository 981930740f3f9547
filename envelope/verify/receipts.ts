/**
 * Receiver side of receipts: what a committed session record says the receiver holds, as a receipt
 * (envelope/receipt.ts). Pure; the ingest service decides when to send one.
 */
import { MAX_RECEIPT_RANGES, RECEIPT_FLAG_CLOSED, RECEIPT_FLAG_ENDED, type Receipt, type SeqRange } from "../receipt.js";
import type { SessionRecord } from "./state.js";

/**
 * The receipt of a session record: contiguousNext is the start of the lowest open gap (or nextSeq),
 * held ranges are what lies between the gaps above it, lowest first, at most MAX_RECEIPT_RANGES (the
 * rest is receipted by a later receipt, once resends have filled the lower gaps).
 */
export function receiptOf(rec: SessionRecord): Receipt {
  const gaps = [...rec.gaps].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  const first = gaps[0];
  const contiguousNext = first ? first.from : rec.nextSeq;
  const held: SeqRange[] = [];
  for (let i = 0; i < gaps.length && held.length < MAX_RECEIPT_RANGES; i++) {
    const from = (gaps[i]?.to ?? 0n) + 1n;
    const to = (gaps[i + 1]?.from ?? rec.nextSeq) - 1n;
    if (to >= from) held.push({ from, to });
  }
  let flags = 0;
  if (rec.endSeq !== undefined) flags |= RECEIPT_FLAG_ENDED;
  if (rec.closed) flags |= RECEIPT_FLAG_CLOSED;
  return {
    sessionId: Buffer.from(rec.sessionId, "hex"), gatewayId: rec.gatewayId, stream: rec.stream, flags,
    contiguousNext, checkpointIndex: rec.lastCheckpointIndex, held,
  };
}
