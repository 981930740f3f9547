#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's built-in runner. Tests are discovered,
// never listed by hand, so a new test file cannot be forgotten. Exit code: 0 only if every run passed.
import { readdirSync, statSync, existsSync, createWriteStream, readFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { spawn } from "node:child_process";

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
if (files.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(2);
}

// The image tests (mmdebstrap builds and QEMU boots: mostly waiting on the network, the disk and the
// guest) run in a runner of their own, started together with the runner of everything else, so they
// overlap the whole suite. One runner with both (node --test's own scheduling) ran them last, alone,
// whatever the order of its arguments. The image runner's output goes to a log file while it runs
// (its path is printed) and is printed whole when it ends, so the two reports do not interleave.
const isImage = (p) => p.includes(`${join("dist", "test", "image")}/`);
const groups = [
  // One image test at a time: beside the suite's two, more would starve its timing-sensitive tests.
  { name: "image", files: files.filter(isImage), buffered: true, concurrency: 1 },
  { name: "suite", files: files.filter((p) => !isImage(p)), buffered: false, concurrency: 2 },
].filter((g) => g.files.length > 0);

function run(group) {
  return new Promise((resolve) => {
    const args = ["--test", `--test-concurrency=${group.concurrency}`, "--test-reporter=spec", ...group.files];
    const opts = { cwd: root, env: { ...process.env, OTGW_REPO_ROOT: root } };
    let log = null;
    let child;
    if (group.buffered && groups.length > 1) {
      log = join(mkdtempSync(join(tmpdir(), `otgw-tests-${group.name}-`)), "report.txt");
      console.log(`run-tests: the ${group.name} tests (${group.files.length} files) run beside the rest; their report: ${log} (printed when they end)`);
      const out = createWriteStream(log);
      child = spawn(process.execPath, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
      child.once("exit", (code, signal) => out.end(() => resolve({ group, code, signal, log })));
    } else {
      child = spawn(process.execPath, args, { ...opts, stdio: "inherit" });
      child.once("exit", (code, signal) => resolve({ group, code, signal, log }));
    }
    child.once("error", (err) => { console.error(`run-tests: ${group.name}: ${err.message}`); resolve({ group, code: 1, signal: null, log }); });
  });
}

const pending = groups.map((g) => run(g));
let failed = false;
for (const p of pending) {
  const { group, code, signal, log } = await p;
  if (log) {
    console.log(`\n===== run-tests: the ${group.name} tests' report (${log}) =====`);
    process.stdout.write(readFileSync(log, "utf8"));
    console.log(`===== end of the ${group.name} tests' report =====`);
  }
  if (code !== 0) {
    failed = true;
    console.error(`run-tests: the ${group.name} tests failed (exit ${code ?? signal})`);
  }
}
process.exit(failed ? 1 : 0);
