/**
 * Receiver side of receipts: what a committed session record says the receiver holds, as a receipt
 * (envelope/receipt.ts). Pure; the ingest service decides when to send one.
 */
import { MAX_RECEIPT_RANGES, RECEIPT_FLAG_CLOSED, RECEIPT_FLAG_ENDED, type Receipt, type SeqRange } from "../receipt.js";
import type { SessionRecord } from "./state.js";

/**
 * The receipts of a session record: contiguousNext is the start of the lowest open gap (or nextSeq),
 * held ranges are what lies between the gaps above it, ascending. More than MAX_RECEIPT_RANGES ranges
 * (gaps that never fill: frames the gateway's queue dropped) are split over several receipts, each with
 * the same contiguousNext and the next MAX_RECEIPT_RANGES ranges, so everything held is receipted.
 */
export function receiptsOf(rec: SessionRecord): Receipt[] {
  const whole = receiptOf(rec, Number.MAX_SAFE_INTEGER);
  if (whole.held.length <= MAX_RECEIPT_RANGES) return [whole];
  const out: Receipt[] = [];
  for (let i = 0; i < whole.held.length; i += MAX_RECEIPT_RANGES) out.push({ ...whole, held: whole.held.slice(i, i + MAX_RECEIPT_RANGES) });
  return out;
}

/** One receipt of a session record with at most `maxRanges` held ranges (the lowest); see {@link receiptsOf}. */
export function receiptOf(rec: SessionRecord, maxRanges = MAX_RECEIPT_RANGES): Receipt {
  const gaps = [...rec.gaps].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  const first = gaps[0];
  const contiguousNext = first ? first.from : rec.nextSeq;
  const held: SeqRange[] = [];
  for (let i = 0; i < gaps.length && held.length < maxRanges; i++) {
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
