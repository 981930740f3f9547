/**
 * Fuzz: mutated session-open, data and checkpoint frames (bit flips, byte replacements, truncations,
 * insertions, deletions, splices between frames, length-field and header edits). The verifier must
 * never throw and never accept a mutated frame, and the untouched original must still be accepted
 * afterwards (no state poisoning). Seeded, so a failure reproduces; OTGW_FUZZ_CASES sets the count.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { prefixLength } from "../../envelope/format.js";
import { Reason, type Verifier, type VerifyResult } from "../../envelope/verify/verifier.js";
import { makeWorld, show } from "./helpers.js";
import { mulberry32 } from "../../hal/sim/prng.js";

const CASES = Number(process.env.OTGW_FUZZ_CASES ?? 120_000);
const SEED = Number(process.env.OTGW_FUZZ_SEED ?? 0x07a9e1);


interface Target {
  name: string;
  frame: Buffer;
  /** Offsets of length fields and their widths. */
  lengths: Array<[number, 1 | 2 | 4]>;
}

function mutate(rnd: () => number, t: Target, corpus: Buffer[]): Buffer {
  const f = t.frame;
  const int = (n: number): number => Math.floor(rnd() * n);
  const pos = (): number => int(f.length);
  const out = Buffer.from(f);
  switch (int(10)) {
    case 0: { // bit flips
      for (let k = 1 + int(4); k > 0; k--) { const i = pos(); out[i] = (out[i] ?? 0) ^ (1 << int(8)); }
      return out;
    }
    case 1: { // byte replacements
      for (let k = 1 + int(4); k > 0; k--) out[pos()] = int(256);
      return out;
    }
    case 2: return f.subarray(0, int(f.length)); // truncation
    case 3: { // insertion
      const i = int(f.length + 1);
      return Buffer.concat([f.subarray(0, i), Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))), f.subarray(i)]);
    }
    case 4: { // deletion
      const i = pos();
      return Buffer.concat([f.subarray(0, i), f.subarray(i + 1 + int(8))]);
    }
    case 5: { // splice with another frame
      const o = corpus[int(corpus.length)] ?? f;
      return Buffer.concat([f.subarray(0, int(f.length + 1)), o.subarray(int(o.length + 1))]);
    }
    case 6: { // length-field edit
      const [off, w] = t.lengths[int(t.lengths.length)] ?? [24, 1];
      const max = w === 1 ? 0xff : w === 2 ? 0xffff : 0xffffffff;
      const cur = w === 1 ? out.readUInt8(off) : w === 2 ? out.readUInt16BE(off) : out.readUInt32BE(off);
      const choices = [0, 1, max, cur + 1, cur - 1, int(max + 1), cur ^ (1 << int(w * 8))];
      const val = Math.min(max, Math.max(0, (choices[int(choices.length)] ?? 0) >>> 0));
      if (w === 1) out.writeUInt8(val, off); else if (w === 2) out.writeUInt16BE(val, off); else out.writeUInt32BE(val, off);
      return out;
    }
    case 7: { // version/type/flags/reserved edit
      const i = 4 + int(4);
      out[i] = rnd() < 0.5 ? int(5) : int(256);
      return out;
    }
    case 8: return Buffer.concat([f, f.subarray(0, 1 + int(f.length))]); // appended garbage / duplicate
    default: { // swap two ranges' bytes (reordering within the frame)
      const i = pos();
      const j = pos();
      const a = out[i] ?? 0;
      out[i] = out[j] ?? 0;
      out[j] = a;
      return out;
    }
  }
}

async function run(v: Verifier, topic: string, frame: Buffer): Promise<VerifyResult> {
  const r = v.acceptSync(topic, frame);
  return !r.ok && r.reason === Reason.NEEDS_ASYNC ? v.accept(topic, frame) : r;
}

void test(`fuzz: ${CASES} mutated frames are never accepted and never throw`, async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const v = w.verifier();
  const plen = prefixLength(w.gatewayId, w.stream);
  const d = [0, 1, 2].map((i) => s.seal(Buffer.from(`{"point":"pump1.temp","value":${20 + i}}`), "otgw.reading/1", BigInt(i)));
  const cp = await s.checkpoint();
  const [d1, d2, d3] = d as [Buffer, Buffer, Buffer];
  const dataLengths: Target["lengths"] = [[24, 1], [25 + w.gatewayId.length, 1], [plen + 24, 1], [plen + 25 + 14, 4]];
  const phases: Target[] = [
    { name: "session-open", frame: s.openFrame, lengths: [[24, 1], [25 + w.gatewayId.length, 1], [plen + 30, 2], [plen + 97, 2], [plen + 179, 2]] },
    { name: "data", frame: d1, lengths: dataLengths },
    { name: "checkpoint", frame: cp, lengths: [[24, 1], [25 + w.gatewayId.length, 1]] },
  ];
  const corpus = [s.openFrame, d1, d2, d3, cp];
  const valid = new Set(corpus.map((b) => b.toString("hex")));
  const rnd = mulberry32(SEED);
  const reasons: Record<string, number> = {};
  let done = 0;
  let skipped = 0;
  const t0 = performance.now();
  for (const [pi, t] of phases.entries()) {
    const n = Math.ceil(CASES / phases.length);
    for (let k = 0, got = 0; got < n; k++) {
      const m = mutate(rnd, t, corpus);
      // Identical bytes, or bytes equal to another valid frame of the session, are not mutations.
      if (m.equals(t.frame) || valid.has(m.toString("hex"))) { skipped++; continue; }
      let r: VerifyResult;
      try {
        r = await run(v, w.topic, m);
      } catch (err) {
        assert.fail(`${t.name} case ${k} threw: ${String(err)} frame ${m.toString("hex")}`);
      }
      if (r.ok) assert.fail(`${t.name} case ${k} accepted a mutated frame: ${m.toString("hex")} ${show(r)}`);
      reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
      done++;
      got++;
    }
    // The untouched original is still accepted: rejected frames did not poison the state.
    const ok = await v.accept(w.topic, t.frame);
    assert.ok(ok.ok, `${t.name} original refused after fuzzing: ${show(ok)}`);
    if (pi === 1) for (const f of [d2, d3]) assert.ok((await v.accept(w.topic, f)).ok);
    if (pi === 2) assert.ok(ok.ok && ok.kind === "checkpoint" && !ok.mismatch, show(ok));
  }
  const ms = performance.now() - t0;
  console.log(`fuzz: ${done} mutated frames rejected (${skipped} non-mutations skipped) in ${(ms / 1000).toFixed(2)} s; reasons ${JSON.stringify(reasons)}`);
  assert.ok(done >= CASES);
});
