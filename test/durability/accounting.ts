/**
 * Exact accounting at the receiver for the delivery fault tests (issue #14): every data frame the
 * gateway's queue accepted ("session:seq") is verified exactly once, or reported missing with its seq
 * range; the one-line `# fault:` summary goes into the closing note.
 */
import assert from "node:assert/strict";
import type { IngestStore } from "../../ingest/store.js";
import { frameRef } from "../../envelope/receipt.js";
import type { CreateGatewayOptions } from "../../firmware/runtime/create-gateway.js";

/** The key accounting uses for a data frame: "sessionIdHex:seq" (undefined for anything else). */
export function acceptedKey(f: { data: boolean; payload: Buffer }): string | undefined {
  const r = f.data ? frameRef(f.payload) : undefined;
  return r ? `${r.sessionIdHex}:${r.n}` : undefined;
}

/** What a gateway's queue accepted, filled by the returned `onCommitted` hook for createGateway. */
export function acceptedFrames(): { accepted: Set<string>; onCommitted: NonNullable<CreateGatewayOptions["onCommitted"]> } {
  const accepted = new Set<string>();
  return { accepted, onCommitted: (frames) => { for (const f of frames) { const k = acceptedKey(f); if (k) accepted.add(k); } } };
}

export interface Accounting {
  accepted: number;
  verified: number;
  /** Accepted but never verified, as `session[from..to]` ranges. */
  missing: string[];
  missingCount: number;
  /** (session, seq) verified more than once. */
  duplicates: number;
  /** Verified but never accepted by this gateway's queue. */
  foreign: number;
  /** Redeliveries the receiver refused as replays (resends after a lost receipt; not duplicates). */
  replaysRefused: number;
}

/** Accounts the gateway `gatewayId`'s accepted frames against what `store` verified. */
export function account(store: IngestStore, gatewayId: string, accepted: ReadonlySet<string>): Accounting {
  const rows = store.db.prepare("SELECT session_id AS s, seq, count(*) AS n FROM verified WHERE gateway_id = ? GROUP BY session_id, seq")
    .safeIntegers(true).all(gatewayId) as Array<{ s: string; seq: bigint; n: bigint }>;
  const seen = new Map(rows.map((r) => [`${r.s}:${r.seq}`, Number(r.n)]));
  const lost = new Map<string, bigint[]>();
  for (const k of accepted) {
    if (seen.has(k)) continue;
    const [s = "", n = "0"] = k.split(":");
    lost.set(s, [...(lost.get(s) ?? []), BigInt(n)]);
  }
  const missing: string[] = [];
  for (const [s, seqs] of lost) {
    seqs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let from = seqs[0] ?? 0n;
    let to = from;
    for (const q of seqs.slice(1)) {
      if (q === to + 1n) { to = q; continue; }
      missing.push(`${s.slice(0, 8)}[${from}..${to}]`);
      from = q; to = q;
    }
    missing.push(`${s.slice(0, 8)}[${from}..${to}]`);
  }
  const replays = store.db.prepare("SELECT count(*) AS n FROM quarantine WHERE gateway_id = ? AND reason = 'REPLAY'").get(gatewayId) as { n: number };
  return {
    accepted: accepted.size, verified: seen.size, missing, missingCount: [...lost.values()].reduce((a, v) => a + v.length, 0),
    duplicates: [...seen.values()].filter((n) => n > 1).length,
    foreign: [...seen.keys()].filter((k) => !accepted.has(k)).length,
    replaysRefused: replays.n,
  };
}

/** Prints the `# fault:` line and asserts the exact accounting (0 missing, 0 duplicates, nothing foreign). */
export function assertExact(name: string, a: Accounting, extra = ""): void {
  console.log(`# fault: accepted ${a.accepted}, verified ${a.verified}, missing ${a.missingCount}, duplicates ${a.duplicates} (${name}${extra ? `; ${extra}` : ""})`);
  assert.ok(a.accepted > 0, `${name}: the gateway accepted readings`);
  assert.deepEqual(a.missing.slice(0, 10), [], `${name}: ${a.missingCount} accepted readings never verified`);
  assert.equal(a.duplicates, 0, `${name}: no reading verified twice`);
  assert.equal(a.foreign, 0, `${name}: nothing verified that the gateway did not accept`);
  assert.equal(a.verified, a.accepted, `${name}: verified = accepted`);
}
