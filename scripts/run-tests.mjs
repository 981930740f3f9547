#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's built-in runner. Tests are discovered,
// never listed by hand, so a new test file cannot be forgotten. Exit code is the runner's.
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const dir = join(root, "dist", "test");
if (!existsSync(dir)) {
  console.error("run-tests: dist/test is missing: run `npm run build` first (npm test does it for you)");
  process.exit(2);
}
// Arguments: substrings of test paths to run (all when none), and `--exclude SUBSTRING` (repeatable).
const filter = [];
const exclude = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === "--exclude") {
    const v = process.argv[++i];
    if (!v) { console.error("run-tests: --exclude needs a path substring"); process.exit(2); }
    exclude.push(v);
  } else filter.push(a);
}
const files = [];
(function walk(d) {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".test.js") && (filter.length === 0 || filter.some((f) => p.includes(f))) && !exclude.some((x) => p.includes(x))) files.push(p);
  }
})(dir);
// The image build and boot (~10 min, mostly waiting on mmdebstrap and QEMU) starts first so it overlaps
// every other test at --test-concurrency=2 instead of running alone at the end; the arm64 tree next.
const firsts = ["/image/image-build.test.js", "/image/arm64.test.js"];
const rank = (p) => { const i = firsts.findIndex((f) => p.endsWith(f)); return i < 0 ? firsts.length : i; };
files.sort((a, b) => rank(a) - rank(b));
if (files.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(2);
}
const res = spawnSync(process.execPath, ["--test", "--test-concurrency=2", "--test-reporter=spec", ...files], {
  stdio: "inherit",
  cwd: root,
  env: { ...process.env, OTGW_REPO_ROOT: root },
});
process.exit(res.status ?? 1);
