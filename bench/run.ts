/**
 * `npm run bench [-- --quick] [-- --out DIR]`: prints a table and writes DIR/results.json,
 * DIR/results.md and DIR/latency.svg (per-message latency histogram), with the machine and versions
 * recorded. Every figure is a median of repeated trials with its spread; where a baseline exists it
 * was measured in the same run and `ratio` = value / baseline value. Targets are reported, never
 * asserted (docs/queue.md, README).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem, release, platform, arch } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { repoRoot } from "../kernel/paths.js";
import type { BenchFigure } from "./figure.js";
import { histogramSvg } from "./histogram.js";
import { benchPipeline } from "./pipeline.js";
import { benchQueue } from "./queue.js";
import { benchSeal } from "./seal.js";
import { benchAdapters } from "./adapters.js";
import { benchTpm } from "./tpm.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function versions(): Record<string, string> {
  const pkg = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(join(repoRoot(), "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
    } catch {
      return "?";
    }
  };
  let mosquitto = "?";
  try {
    mosquitto = execFileSync(process.env.MOSQUITTO ?? "/usr/sbin/mosquitto", ["-h"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0] ?? "?";
  } catch (err) {
    mosquitto = String((err as { stdout?: string }).stdout ?? "?").split("\n")[0] ?? "?";
  }
  return {
    node: process.version, openssl: process.versions.openssl, v8: process.versions.v8, sqlite: process.versions.sqlite ?? "?",
    mqtt: pkg("mqtt"), "better-sqlite3": pkg("better-sqlite3"), jose: pkg("jose"), "@hpke/core": pkg("@hpke/core"), mosquitto: mosquitto.trim(),
  };
}

function fmt(n: number | undefined): string {
  if (n === undefined) return "";
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3);
}

const TARGETS: Array<{ id: string; text: string; ok: (f: BenchFigure) => boolean }> = [
  { id: "seal-256", text: "seal p50 ≤ 1.5× aes-gcm-256", ok: (f) => (f.ratio ?? Infinity) <= 1.5 },
  { id: "jose-dir-256", text: "jose-dir-256 ≥ 8× seal-256", ok: (f) => (f.ratio ?? 0) >= 8 },
  { id: "pipeline-msgs", text: "pipeline ≥ 0.7× mqtt-raw-msgs", ok: (f) => (f.ratio ?? 0) >= 0.7 },
  { id: "pipeline-receipts-msgs", text: "pipeline with receipts ≥ 0.9× pipeline-msgs", ok: (f) => (f.ratio ?? 0) >= 0.9 },
  { id: "rss-mb", text: "gateway RSS ≤ 150 MB", ok: (f) => f.value <= 150 },
];

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const out = arg("--out") ?? "bench-out";
  mkdirSync(out, { recursive: true });
  const t0 = Date.now();
  const seal = await benchSeal({ quick });
  const figures: BenchFigure[] = [...seal.figures, ...benchQueue({ quick }), ...(await benchPipeline({ quick }))];
  figures.push(...(await benchAdapters({ quick })));
  figures.push(...(await benchTpm({ quick })));

  const machine = {
    cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), platform: platform(), arch: arch(),
    quick, at: new Date().toISOString(), seconds: Math.round((Date.now() - t0) / 1000),
  };
  const vers = versions();
  const targets = TARGETS.map((t) => {
    const f = figures.find((x) => x.id === t.id);
    return { target: t.text, met: f ? t.ok(f) : null, value: f?.ratio ?? f?.value ?? null };
  });
  writeFileSync(join(out, "results.json"), JSON.stringify({ machine, versions: vers, figures, targets }, null, 2) + "\n");
  const rows = figures.map((f) => `| ${f.id} | ${fmt(f.value)} | ${f.unit} | ${fmt(f.spread)} | ${fmt(f.p99)} | ${fmt(f.p999)} | ${f.baseline ?? ""} | ${f.ratio !== undefined ? f.ratio.toFixed(2) : ""} |`);
  const table = ["| id | median | unit | spread | p99 | p99.9 | baseline | ratio |", "|---|---|---|---|---|---|---|---|", ...rows].join("\n");
  const tlines = targets.map((t) => `- ${t.target}: ${t.met === null ? "not measured" : t.met ? "met" : "NOT met"} (${fmt(t.value ?? undefined)})`).join("\n");
  const md = [
    "# otgw bench", "",
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.platform}/${machine.arch} ${machine.kernel}; ${machine.quick ? "quick" : "full"} run at ${machine.at} (${machine.seconds} s).`, "",
    `Versions: ${Object.entries(vers).map(([k, v]) => `${k} ${v}`).join(", ")}.`, "",
    table, "", "Targets on this machine (reported, not asserted):", tlines, "",
    "Notes:", ...figures.filter((f) => f.note).map((f) => `- ${f.id}: ${f.note}`), "", "Latency histogram: [latency.svg](latency.svg)", "",
  ].join("\n");
  writeFileSync(join(out, "results.md"), md);
  console.log(table);
  writeFileSync(join(out, "latency.svg"), histogramSvg(`otgw per-message latency (${quick ? "quick" : "full"} run, ${machine.cpu})`, seal.histogram));
  console.log(`\n${tlines}\n\nwritten: ${join(out, "results.json")}, ${join(out, "results.md")}, ${join(out, "latency.svg")}`);
}

main().then(() => process.exit(process.exitCode ?? 0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
