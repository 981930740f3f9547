import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const REQUIRED = ["seal-256", "aes-gcm-256", "jose-dir-256", "jose-ecdh-256", "verify-256", "pipeline-msgs", "mqtt-raw-msgs", "enqueue-msgs", "drain-msgs", "rss-mb", "rss-mb-opcua", "backlog-drain-msgs", "seal-64", "seal-4096", "ecdsa-every-256", "pipeline-cpu-us", "mqtt-raw-cpu-us"];

void test("npm run bench -- --quick writes results.json (every required id), results.md and latency.svg", () => {
  const here = import.meta.url;
  const ts = here.endsWith(".ts");
  const script = fileURLToPath(new URL(`../../bench/run.${ts ? "ts" : "js"}`, here));
  const out = mkdtempSync(join(tmpdir(), "otgw-bench-smoke-"));
  try {
    const r = spawnSync(process.execPath, [...(ts ? ["--import", "tsx"] : []), script, "--quick", "--out", out], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    assert.equal(r.status, 0, `bench failed: ${r.stderr.slice(-2000)}`);
    for (const f of ["results.json", "results.md", "latency.svg"]) assert.ok(existsSync(join(out, f)), `${f} written`);
    const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { machine: { cpu: string }; versions: Record<string, string>; figures: Array<{ id: string; unit: string; value: number; spread?: number; baseline?: string; ratio?: number }> };
    const ids = res.figures.map((f) => f.id);
    for (const id of REQUIRED) assert.ok(ids.includes(id), `figure ${id} present`);
    for (const f of res.figures) {
      assert.ok(Number.isFinite(f.value) && f.value > 0, `${f.id} has a value`);
      assert.ok(f.unit.length > 0);
      if (f.baseline !== undefined) assert.ok(ids.includes(f.baseline) && Number.isFinite(f.ratio), `${f.id} names a measured baseline and a ratio`);
    }
    assert.ok(res.machine.cpu && res.versions.node && res.versions.mqtt);
    assert.match(readFileSync(join(out, "results.md"), "utf8"), /\| seal-256 \|/);
    assert.match(readFileSync(join(out, "latency.svg"), "utf8"), /^<svg /);
    assert.match(r.stdout, /\| pipeline-msgs \|/, "table printed");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
