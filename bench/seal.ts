/**
 * Per-message cost of envelope v1 against its baselines, measured in the same run:
 *  - seal-256: SessionSealer.seal of a 256-byte record (AES-256-GCM + header + hash chain step)
 *  - aes-gcm-256: raw node:crypto AES-256-GCM, createCipheriv per message, same payload
 *  - jose-dir-256: jose CompactEncrypt dir + A256GCM (await per message), same payload
 *  - verify-256: Verifier.acceptSync of one data frame (parse, AEAD open, seq and chain)
 * Each trial times batches of messages; the value is the median over trials of the batch p50.
 * Run alone: node --import tsx bench/seal.ts [--quick]
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { CompactEncrypt } from "jose";
import { makeWorld } from "../test/envelope/helpers.js";

/** One benchmark figure. */
export interface BenchResult {
  id: string;
  unit: string;
  /** Median over trials of the per-message p50 (µs). */
  value: number;
  /** Median over trials of the per-message p99 of batch means (µs). */
  p99?: number;
  /** (max - min) / median of the trial p50s: how noisy the figure is. */
  spread?: number;
  /** id of the figure this one is compared with. */
  baseline?: string;
  /** value / baseline value (for jose: jose / seal, i.e. how many times slower jose is). */
  ratio?: number;
}

const BATCH = 64;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

interface Trial { p50: number; p99: number }

function timeSync(n: number, op: (i: number) => void): Trial {
  const per: number[] = [];
  for (let i = 0; i < n; i += BATCH) {
    const t0 = process.hrtime.bigint();
    for (let k = i; k < i + BATCH; k++) op(k);
    per.push(Number(process.hrtime.bigint() - t0) / 1000 / BATCH);
  }
  return { p50: quantile(per, 0.5), p99: quantile(per, 0.99) };
}

async function timeAsync(n: number, op: () => Promise<unknown>): Promise<Trial> {
  const per: number[] = [];
  for (let i = 0; i < n; i += BATCH) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < BATCH; k++) await op();
    per.push(Number(process.hrtime.bigint() - t0) / 1000 / BATCH);
  }
  return { p50: quantile(per, 0.5), p99: quantile(per, 0.99) };
}

function summarize(id: string, trials: Trial[]): BenchResult {
  const p50s = trials.map((t) => t.p50);
  const med = quantile(p50s, 0.5);
  return { id, unit: "us/msg", value: med, p99: quantile(trials.map((t) => t.p99), 0.5), spread: (Math.max(...p50s) - Math.min(...p50s)) / med };
}

/** Runs the four figures; `quick` uses fewer and shorter trials (CI smoke). */
export async function benchSeal(opts: { quick: boolean }): Promise<BenchResult[]> {
  const n = opts.quick ? 8_192 : 65_536;
  const trials = opts.quick ? 3 : 7;
  const w = await makeWorld("gw-bench-01", "bench");
  const payload = randomBytes(256);
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const jwe = new CompactEncrypt(payload).setProtectedHeader({ alg: "dir", enc: "A256GCM" });
  const t: Record<string, Trial[]> = { "seal-256": [], "aes-gcm-256": [], "jose-dir-256": [], "verify-256": [] };
  let sink = 0;
  for (let trial = 0; trial < trials + 1; trial++) {
    const sealer = await w.sealer({ checkpointEveryMessages: 0, checkpointEveryMs: 0 });
    const verifier = w.verifier();
    await verifier.accept(w.topic, sealer.openFrame);
    const frames: Buffer[] = new Array<Buffer>(n);
    // Trial 0 warms the JIT and is discarded; the order of ops is the same in every trial.
    const keep = trial > 0;
    const seal = timeSync(n, (i) => { frames[i] = sealer.seal(payload, "otgw.reading/1", 1n); });
    const aes = timeSync(n, () => {
      const c = createCipheriv("aes-256-gcm", key, iv);
      const ct = c.update(payload);
      c.final();
      sink += ct.length + c.getAuthTag().length;
    });
    const jose = await timeAsync(opts.quick ? n / 8 : n / 4, () => jwe.encrypt(key));
    const verify = timeSync(n, (i) => {
      const r = verifier.acceptSync(w.topic, frames[i] ?? Buffer.alloc(0));
      if (!r.ok) throw new Error(`bench verify refused frame ${i}: ${r.reason}`);
    });
    if (keep) {
      t["seal-256"]?.push(seal);
      t["aes-gcm-256"]?.push(aes);
      t["jose-dir-256"]?.push(jose);
      t["verify-256"]?.push(verify);
    }
  }
  if (sink < 0) console.log(sink);
  const aes = summarize("aes-gcm-256", t["aes-gcm-256"] ?? []);
  const seal = { ...summarize("seal-256", t["seal-256"] ?? []), baseline: "aes-gcm-256" };
  seal.ratio = seal.value / aes.value;
  const jose = { ...summarize("jose-dir-256", t["jose-dir-256"] ?? []), baseline: "seal-256" };
  jose.ratio = jose.value / seal.value;
  const verify = { ...summarize("verify-256", t["verify-256"] ?? []), baseline: "aes-gcm-256" };
  verify.ratio = verify.value / aes.value;
  return [seal, aes, jose, verify];
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) {
  const rows = await benchSeal({ quick: process.argv.includes("--quick") });
  for (const r of rows) console.log(`${r.id.padEnd(14)} p50 ${r.value.toFixed(2)} µs  p99 ${r.p99?.toFixed(2)} µs  spread ${((r.spread ?? 0) * 100).toFixed(0)}%${r.ratio ? `  ${r.ratio.toFixed(2)}× ${r.baseline}` : ""}`);
}
