import type { KeyObject } from "node:crypto";
import { frameRef, parseReceipt, receiptFrees, ReceiptReason, verifyReceiptMac, type FrameRef, type Receipt, type ReceiptReasonCode } from "../../envelope/receipt.js";
import type { QueueItem } from "../queue/queue.js";

/**
 * `required`: a frame leaves the queue only when the receiver's authenticated receipt covers it; the
 * broker's PUBACK only paces the window. `off`: PUBACK frees (for a receiver that sends no receipts;
 * a broker restart can then lose acknowledged frames: docs/queue.md).
 */
export type ReceiptMode = "required" | "off";

/** Receipt settings of the uplink (docs/queue.md "Sent, not yet receipted"). */
export interface ReceiptSettings {
  mode: ReceiptMode;
  /** The gateway's id: receipts naming another gateway are refused. */
  gatewayId: string;
  /** The receipt MAC key of a session this process sealed, or undefined (another run's session). */
  keyOf(sessionIdHex: string): KeyObject | undefined;
  /**
   * A sent frame with no receipt after this long, in a session that got no receipt for this long
   * either, is sent again (default 10 s). A session whose receipts keep coming is only behind (the
   * receiver works through a backlog in order); what it lost, its receipts name (held ranges).
   */
  resendAfterMs?: number;
  /**
   * Cap of the resend wait (default 5 min, never below resendAfterMs). Each resend round of a session
   * that brings no receipt doubles the session's wait, up to this; its next receipt resets it. A session
   * the receiver refuses for good (a certificate not valid at the gateway's time) would otherwise have
   * its whole backlog sent again every resendAfterMs, each copy one more row in the receiver's quarantine.
   */
  maxResendAfterMs?: number;
  /** A frame a receipt names as missing is resent if it was sent at least this long ago (default 2 s). */
  gapGraceMs?: number;
}

/** One sent, not yet receipted frame. */
interface Sent {
  id: number;
  priority: number;
  bytes: number;
  sentMs: number;
  ref: FrameRef;
}

/** What the tracker decided about one receipt. */
export type ReceiptOutcome =
  | { ok: true; freed: number[]; /** frames the receipt names as missing, sent long enough ago */ missing: Array<{ id: number; priority: number }> }
  | { ok: false; reason: ReceiptReasonCode; detail: string };

/** Counters of the sent-but-unreceipted state. */
export interface ReceiptCounters {
  /** Frames PUBACKed (or not delivered yet) and waiting for a receipt. */
  unreceipted: number;
  unreceiptedBytes: number;
  /** Age of the oldest of them, ms (0 if none). */
  oldestUnreceiptedMs: number;
  /** Authentic receipts received. */
  receipts: number;
  /** Receipts refused (forged, altered, malformed, another gateway's or an unknown session's). */
  receiptsRefused: number;
  /** Frames freed by a receipt. */
  receipted: number;
  /** Frames freed by PUBACK alone: mode off, or frames of a session of an earlier run (no receipt key). */
  freedByPuback: number;
  /** Frames sent again because their receipt was overdue or a receipt named them missing. */
  resent: number;
  /** PUBACKs below 0x80 other than 0 (16 No matching subscribers): the broker did not deliver. */
  notDelivered: number;
  /** Wall-clock ms of the last authentic receipt (0 = none since start). */
  lastReceiptMs: number;
}

/**
 * The gateway's sent-but-unreceipted frames (in memory: they are still in the queue, which is what
 * survives a restart; after one, every unfreed frame is simply sent again and the receiver's replays
 * get it receipted). Decides what a receipt frees and what is overdue; the uplink does the I/O.
 */
export class ReceiptTracker {
  private readonly sent = new Map<number, Sent>();
  private readonly bySession = new Map<string, Set<number>>();
  private readonly latest = new Map<string, Receipt>();
  /** Wall-clock ms of the last authentic receipt per session. */
  private readonly lastOf = new Map<string, number>();
  private bytes = 0;
  readonly resendAfterMs: number;
  readonly maxResendAfterMs: number;
  readonly gapGraceMs: number;
  /** Resend rounds in a row that brought the session no receipt (doubles its wait). */
  private readonly rounds = new Map<string, number>();
  readonly stats = { receipts: 0, receiptsRefused: 0, receipted: 0, freedByPuback: 0, resent: 0, notDelivered: 0, lastReceiptMs: 0 };

  constructor(readonly settings: ReceiptSettings) {
    this.resendAfterMs = settings.resendAfterMs ?? 10_000;
    this.maxResendAfterMs = Math.max(this.resendAfterMs, settings.maxResendAfterMs ?? 300_000);
    this.gapGraceMs = settings.gapGraceMs ?? 2000;
  }

  /**
   * The broker PUBACKed `item` (reason 0), or answered "not delivered" (`delivered` false). Returns true
   * if the item may leave the queue now (PUBACK frees it), false if it now waits for a receipt.
   */
  acknowledged(item: QueueItem, nowMs: number, delivered: boolean): boolean {
    if (!delivered) this.stats.notDelivered++;
    const ref = frameRef(item.payload);
    const required = this.settings.mode === "required" && ref !== undefined && this.settings.keyOf(ref.sessionIdHex) !== undefined;
    if (delivered && !required) {
      this.stats.freedByPuback++;
      return true;
    }
    const prior = ref ? this.latest.get(ref.sessionIdHex) : undefined;
    if (delivered && ref && prior && receiptFrees(prior, ref)) {
      // The receipt overtook the PUBACK (both on one connection, in no guaranteed order).
      this.stats.receipted++;
      return true;
    }
    this.track({ id: item.id, priority: item.priority, bytes: item.payload.length, sentMs: nowMs, ref: ref ?? { type: 0, sessionIdHex: "", n: 0n } });
    return false;
  }

  /** Checks and applies one receipt message. */
  receipt(payload: Buffer, nowMs: number): ReceiptOutcome {
    const p = parseReceipt(payload);
    if (!p.ok) return this.refuse(p.reason, p.detail);
    const r = p.receipt;
    if (r.gatewayId !== this.settings.gatewayId) return this.refuse(ReceiptReason.WRONG_GATEWAY, `receipt names gateway "${r.gatewayId}"`);
    const sid = r.sessionId.toString("hex");
    const key = this.settings.keyOf(sid);
    if (!key) return this.refuse(ReceiptReason.UNKNOWN_SESSION, `receipt for session ${sid}, which this process did not seal`);
    if (!verifyReceiptMac(key, payload, p.macEnd, p.mac)) return this.refuse(ReceiptReason.BAD_MAC, `receipt for session ${sid}: MAC does not verify (forged or altered)`);
    this.stats.receipts++;
    this.stats.lastReceiptMs = nowMs;
    this.remember(sid, r, nowMs);
    const freed: number[] = [];
    const missing: Array<{ id: number; priority: number }> = [];
    const top = r.held.length > 0 ? (r.held[r.held.length - 1]?.to ?? 0n) : -1n;
    for (const id of this.bySession.get(sid) ?? []) {
      const s = this.sent.get(id);
      if (!s) continue;
      if (receiptFrees(r, s.ref)) {
        this.untrack(s);
        freed.push(id);
      } else if (s.ref.type === 2 && s.ref.n < top && nowMs - s.sentMs >= this.gapGraceMs) {
        missing.push({ id, priority: s.priority });
      }
    }
    this.stats.receipted += freed.length;
    return { ok: true, freed, missing };
  }

  /** How long a frame of the session waits for its receipt: resendAfterMs, doubled per fruitless round, capped. */
  resendWaitMs(sessionIdHex: string): number {
    const k = Math.min(this.rounds.get(sessionIdHex) ?? 0, 30);
    return Math.min(this.resendAfterMs * 2 ** k, this.maxResendAfterMs);
  }

  /**
   * Frames whose receipt is overdue (sent at least their session's resendWaitMs ago, with no receipt of
   * the session for that long either), oldest first. The caller sends them again: each session named
   * counts one resend round, which doubles its next wait until a receipt of it comes.
   */
  overdue(nowMs: number): Array<{ id: number; priority: number }> {
    const out: Array<{ id: number; priority: number }> = [];
    const named = new Set<string>();
    // Insertion order is send order (a re-sent frame is re-inserted), so stop at the first recent one.
    for (const s of this.sent.values()) {
      if (nowMs - s.sentMs < this.resendAfterMs) break;
      const sid = s.ref.sessionIdHex;
      const wait = this.resendWaitMs(sid);
      if (nowMs - s.sentMs < wait || nowMs - (this.lastOf.get(sid) ?? 0) < wait) continue;
      out.push({ id: s.id, priority: s.priority });
      named.add(sid);
    }
    for (const sid of named) {
      const k = this.rounds.get(sid) ?? 0;
      this.rounds.delete(sid); // re-inserted last: the map stays bounded to the most recent sessions
      this.rounds.set(sid, k + 1);
    }
    if (this.rounds.size > 1024) {
      const first = this.rounds.keys().next();
      if (!first.done) this.rounds.delete(first.value);
    }
    return out;
  }

  /**
   * The uplink goes back to resend from `fromId` in class `priority`: every tracked frame of that class
   * from there on is forgotten (it is sent, and tracked, again). Returns how many were forgotten.
   */
  rewind(priority: number, fromId: number): number {
    let n = 0;
    for (const s of [...this.sent.values()]) {
      if (s.priority === priority && s.id >= fromId) {
        this.untrack(s);
        n++;
      }
    }
    this.stats.resent += n;
    return n;
  }

  /** These frames left the queue otherwise (dropped by its bound, dead-lettered): stop waiting for them. */
  forget(ids: readonly number[]): void {
    for (const id of ids) {
      const s = this.sent.get(id);
      if (s) this.untrack(s);
    }
  }

  /** True if the frame is sent and waiting for its receipt. */
  has(id: number): boolean {
    return this.sent.has(id);
  }

  /** Counters now. */
  counters(nowMs: number): ReceiptCounters {
    const first = this.oldest();
    return { ...this.stats, unreceipted: this.sent.size, unreceiptedBytes: this.bytes, oldestUnreceiptedMs: first ? Math.max(0, nowMs - first.sentMs) : 0 };
  }

  /** Forgets all tracked frames (a new connection resends everything unfreed from the queue). */
  clear(): void {
    this.sent.clear();
    this.bySession.clear();
    this.bytes = 0;
  }

  private oldest(): Sent | undefined {
    const first = this.sent.values().next();
    return first.done ? undefined : first.value;
  }

  private track(s: Sent): void {
    const prev = this.sent.get(s.id);
    if (prev) this.untrack(prev);
    this.sent.set(s.id, s);
    this.bytes += s.bytes;
    let set = this.bySession.get(s.ref.sessionIdHex);
    if (!set) this.bySession.set(s.ref.sessionIdHex, (set = new Set()));
    set.add(s.id);
  }

  private untrack(s: Sent): void {
    if (!this.sent.delete(s.id)) return;
    this.bytes -= s.bytes;
    const set = this.bySession.get(s.ref.sessionIdHex);
    set?.delete(s.id);
    if (set?.size === 0) this.bySession.delete(s.ref.sessionIdHex);
  }

  private remember(sid: string, r: Receipt, nowMs: number): void {
    // Receipts only grow, so the newest replaces the older; bounded to the recent sessions.
    this.latest.delete(sid);
    this.latest.set(sid, r);
    this.lastOf.delete(sid);
    this.lastOf.set(sid, nowMs);
    this.rounds.delete(sid);
    if (this.latest.size > 1024) {
      const first = this.latest.keys().next();
      if (!first.done) this.latest.delete(first.value);
    }
    if (this.lastOf.size > 1024) {
      const first = this.lastOf.keys().next();
      if (!first.done) this.lastOf.delete(first.value);
    }
  }

  private refuse(reason: ReceiptReasonCode, detail: string): ReceiptOutcome {
    this.stats.receiptsRefused++;
    return { ok: false, reason, detail };
  }
}
