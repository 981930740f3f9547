/**
 * `npm run bench [-- --quick] [-- --out DIR]`: prints a table and writes DIR/results.json and
 * DIR/results.md, with the machine and versions recorded. Every figure is a median of repeated trials
 * with its spread; where a baseline exists it was measured in the same run and the ratio is given.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem, release } from "node:os";
import { join } from "node:path";
import { benchSeal } from "./seal.js";
import type { BenchFigure } from "./figure.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const out = arg("--out") ?? "bench-out";
  mkdirSync(out, { recursive: true });
  const figures: BenchFigure[] = [];
  figures.push(...(await benchSeal({ quick })));

  const machine = {
    node: process.version, openssl: process.versions.openssl, cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), quick, at: new Date().toISOString(),
  };
  writeFileSync(join(out, "results.json"), JSON.stringify({ machine, figures }, null, 2));
  const rows = figures.map((f) => `| ${f.id} | ${fmt(f.value)} | ${f.unit} | ${f.spread !== undefined ? fmt(f.spread) : ""} | ${f.baseline ?? ""} | ${f.ratio !== undefined ? f.ratio.toFixed(2) : ""} |`);
  const table = ["| id | median | unit | spread | baseline | ratio |", "|---|---|---|---|---|---|", ...rows].join("\n");
  writeFileSync(join(out, "results.md"), `# otgw bench\n\n${JSON.stringify(machine)}\n\n${table}\n`);
  console.log(table);
  console.log(`\nwritten: ${join(out, "results.json")}, ${join(out, "results.md")}`);
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
