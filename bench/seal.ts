/**
 * Per-message cost of envelope v1 against its baselines, measured in the same run, each message timed
 * on its own (so p99 and p99.9 are real per-message tails, not batch means):
 *  - seal-64 / seal-256 / seal-4096: SessionSealer.seal (AES-256-GCM + header + hash-chain step) on
 *    the system clock, as in the gateway; its frame is counted and dropped, like the baseline's output
 *  - aes-gcm-64 / -256 / -4096: raw node:crypto AES-256-GCM, createCipheriv per message, same payload
 *  - jose-dir-256: jose CompactEncrypt dir + A256GCM (await per message)
 *  - jose-ecdh-256: jose CompactEncrypt ECDH-ES+A256KW + A256GCM to a P-256 key (await per message)
 *  - ecdsa-every-256: AES-256-GCM plus an ECDSA P-256 signature on every message
 *  - verify-256: Verifier.acceptSync of one data frame (parse, AEAD open, seq and chain)
 * Value: median over trials of each trial's p50; p99/p999 likewise; spread: max − min of trial p50s.
 * Run alone: node --import tsx bench/seal.ts [--quick]
 */
import { createCipheriv, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { CompactEncrypt } from "jose";
import { systemClock } from "../kernel/clock.js";
import { makeWorld } from "../devkit/envelope-world.js";
import type { BenchFigure } from "./figure.js";
import type { Series } from "./histogram.js";
import { median, quantile } from "./stats.js";

const SIZES = [64, 256, 4096] as const;

function timeSync(n: number, op: (i: number) => void): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    op(i);
    out[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return out;
}

async function timeAsync(n: number, op: () => Promise<unknown>): Promise<Float64Array> {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await op();
    out[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return out;
}

function summarize(id: string, trials: Float64Array[], note?: string): BenchFigure {
  const p50s = trials.map((t) => quantile(t, 0.5));
  const f: BenchFigure = {
    id, unit: "us/msg", value: median(p50s), spread: Math.max(...p50s) - Math.min(...p50s),
    p99: median(trials.map((t) => quantile(t, 0.99))), p999: median(trials.map((t) => quantile(t, 0.999))), trials: trials.length,
  };
  if (note) f.note = note;
  return f;
}

function against(f: BenchFigure, base: BenchFigure): BenchFigure {
  return { ...f, baseline: base.id, ratio: f.value / base.value };
}

/** The seal figures and the samples of the last trial for the histogram picture. */
export interface SealBench {
  figures: BenchFigure[];
  histogram: Series[];
}

/** Runs every per-message figure; `quick` uses fewer and shorter trials (CI smoke). */
export async function benchSeal(opts: { quick: boolean }): Promise<SealBench> {
  const n = opts.quick ? 8_192 : 65_536;
  const trials = opts.quick ? 3 : 7;
  const w = await makeWorld("gw-bench-01", "bench");
  const payloads = new Map<number, Buffer>(SIZES.map((s) => [s, randomBytes(s)]));
  const p256 = payloads.get(256)!;
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const ecdh = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signing = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const jweDir = new CompactEncrypt(p256).setProtectedHeader({ alg: "dir", enc: "A256GCM" });
  const jweEcdh = new CompactEncrypt(p256).setProtectedHeader({ alg: "ECDH-ES+A256KW", enc: "A256GCM" });
  const t = new Map<string, Float64Array[]>();
  const keep = (id: string, s: Float64Array): void => { t.set(id, [...(t.get(id) ?? []), s]); };
  let sink = 0;
  const aes = (p: Buffer): Buffer => {
    const c = createCipheriv("aes-256-gcm", key, iv);
    const ct = c.update(p);
    c.final();
    sink += c.getAuthTag().length;
    return ct;
  };
  for (let trial = 0; trial <= trials; trial++) {
    // Trial 0 warms the JIT and is discarded; the order of ops is the same in every trial.
    const record = trial > 0;
    for (const size of SIZES) {
      // The gateway's own clock: reading the gateway timestamp is part of every real seal.
      const sealer = await w.sealer({ checkpointEveryMessages: 0, checkpointEveryMs: 0, clock: systemClock });
      const p = payloads.get(size)!;
      // Seal and baseline treat their output alike (counted, then dropped): keeping 65 536 frames
      // alive only on the seal side charged it GC work of the harness, not of sealing.
      const seal = timeSync(n, () => { sink += sealer.seal(p, "otgw.reading/1", 1n).length; });
      const raw = timeSync(n, () => { sink += aes(p).length; });
      if (size === 256) {
        // The verifier's input: a session of the same payload, sealed untimed.
        // On the world's clock, which the verifier also reads: the receiver bounds a session's createdNs.
        const src = await w.sealer({ checkpointEveryMessages: 0, checkpointEveryMs: 0 });
        const frames256 = Array.from({ length: n }, () => src.seal(p, "otgw.reading/1", 1n));
        const verifier = w.verifier();
        await verifier.accept(w.topic, src.openFrame);
        const verify = timeSync(n, (i) => {
          const r = verifier.acceptSync(w.topic, frames256[i] ?? Buffer.alloc(0));
          if (!r.ok) throw new Error(`bench verify refused frame ${i}: ${r.reason}`);
        });
        if (record) keep("verify-256", verify);
      }
      if (record) {
        keep(`seal-${size}`, seal);
        keep(`aes-gcm-${size}`, raw);
      }
    }
    const jose = await timeAsync(opts.quick ? n / 8 : n / 4, () => jweDir.encrypt(key));
    const joseEcdh = await timeAsync(opts.quick ? 100 : 1000, () => jweEcdh.encrypt(ecdh.publicKey));
    const ecdsa = timeSync(opts.quick ? n / 8 : n / 4, () => { const ct = aes(p256); sink += sign("sha256", ct, signing).length; });
    if (record) {
      keep("jose-dir-256", jose);
      keep("jose-ecdh-256", joseEcdh);
      keep("ecdsa-every-256", ecdsa);
    }
  }
  if (sink < 0) console.log(sink);
  const fig = (id: string, note?: string): BenchFigure => summarize(id, t.get(id) ?? [], note);
  const figures: BenchFigure[] = [];
  for (const size of SIZES) {
    const base = fig(`aes-gcm-${size}`, `${size} B payload`);
    figures.push(against(fig(`seal-${size}`, `${size} B payload`), base), base);
  }
  const seal256 = figures.find((f) => f.id === "seal-256")!;
  const aes256 = figures.find((f) => f.id === "aes-gcm-256")!;
  figures.push(
    against(fig("jose-dir-256"), seal256),
    against(fig("jose-ecdh-256"), seal256),
    against(fig("ecdsa-every-256", "AES-256-GCM + ECDSA P-256 sign per message"), seal256),
    against(fig("verify-256", "receiver parse + AEAD open + seq + chain"), aes256),
  );
  const last = (id: string): Float64Array => t.get(id)?.at(-1) ?? new Float64Array();
  const histogram: Series[] = [
    { label: "seal-256 (envelope v1)", samples: last("seal-256") },
    { label: "aes-gcm-256 (raw node:crypto)", samples: last("aes-gcm-256") },
    { label: "verify-256 (receiver)", samples: last("verify-256") },
    { label: "jose-dir-256", samples: last("jose-dir-256") },
    { label: "ecdsa-every-256", samples: last("ecdsa-every-256") },
    { label: "jose-ecdh-256", samples: last("jose-ecdh-256") },
  ];
  return { figures, histogram };
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) {
  const { figures } = await benchSeal({ quick: process.argv.includes("--quick") });
  for (const r of figures) console.log(`${r.id.padEnd(16)} p50 ${r.value.toFixed(2)} µs  p99 ${r.p99?.toFixed(2)}  p99.9 ${r.p999?.toFixed(2)}${r.ratio ? `  ${r.ratio.toFixed(2)}× ${r.baseline}` : ""}`);
}
