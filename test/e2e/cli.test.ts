import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";

const root = repoRoot();
const otgw = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [join(root, "dist", "bin", "otgw.js"), ...args], { cwd: root, encoding: "utf8", timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

void test("otgw config check: 0 for every example config, non-zero with path: message for a bad one", () => {
  const dir = join(root, "config", "examples");
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length >= 2);
  for (const f of files) {
    const r = otgw(["config", "check", join(dir, f)]);
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
  }
  const badDir = join(root, "test", "config", "bad");
  const bad = readdirSync(badDir).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(bad.length >= 1);
  for (const f of bad) {
    const r = otgw(["config", "check", join(badDir, f)]);
    assert.notEqual(r.status, 0, `${f} should fail`);
    assert.match(r.stderr, /\/[A-Za-z0-9/_-]*: /, `${f}: problems are reported as path: message`);
  }
});

void test("otgw demo --messages N ends with one JSON summary line and exits 0 when all published were verified", () => {
  const out = mkdtempSync(join(tmpdir(), "otgw-demo-"));
  const r = otgw(["demo", "--messages", "600", "--out", out, "--quiet"]);
  assert.equal(r.status, 0, `demo failed: ${r.stderr.slice(-2000)}\n${r.stdout}`);
  const lines = r.stdout.trim().split("\n");
  const summary = JSON.parse(lines[lines.length - 1]!) as Record<string, number>;
  for (const k of ["published", "verified", "rejected", "quarantined"]) assert.equal(typeof summary[k], "number", k);
  assert.ok(summary.published! >= 600);
  assert.equal(summary.verified, summary.published);
  assert.equal(summary.rejected, 0);
});
