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
// Arguments: substrings of test paths to run (all when none), `--exclude SUBSTRING` (repeatable), and
// `--lts`: once the suite has run on this Node, run it again on the current Node LTS
// (scripts/test-lts.sh, image tests excluded) while the image line is still going.
const filter = [];
const exclude = [];
let lts = false;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === "--lts") lts = true;
  else if (a === "--exclude") {
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
// guest) run in a line of their own, one file at a time, started together with the runner of everything
// else, so they overlap the whole suite. One runner with both (node --test's own scheduling) ran them
// last, alone, whatever the order of its arguments. The image line's output goes to a log file while it
// runs (its path is printed) and is printed whole at the end, so the two reports do not interleave.
const isImage = (p) => p.includes(`${join("dist", "test", "image")}/`);
const env = { ...process.env, OTGW_REPO_ROOT: root };
const groups = [
  { name: "image", files: files.filter(isImage), line: true },
  { name: "suite", files: files.filter((p) => !isImage(p)), line: false },
].filter((g) => g.files.length > 0);

/** One `node --test` over `files`; output to `out` (a stream) or inherited. Resolves to its exit code. */
function runner(files, concurrency, out) {
  return new Promise((resolve) => {
    const args = ["--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files];
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: out ? ["ignore", "pipe", "pipe"] : "inherit" });
    if (out) {
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
    }
    child.once("error", (err) => { console.error(`run-tests: ${err.message}`); resolve(1); });
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** The LTS leg: scripts/test-lts.sh with the same path arguments, reporting to the terminal. */
function ltsLeg() {
  const args = [join(root, "scripts", "test-lts.sh"), ...filter, ...exclude.flatMap((x) => ["--exclude", x])];
  return new Promise((resolve) => {
    console.log("\n===== run-tests: the suite again on the current Node LTS (scripts/test-lts.sh) =====");
    const child = spawn("bash", args, { cwd: root, env, stdio: "inherit" });
    child.once("error", (err) => { console.error(`run-tests: ${err.message}`); resolve(1); });
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function run(group) {
  if (!group.line) {
    const code = await runner(group.files, 2, null);
    // The LTS leg starts when this Node's suite ends, beside the image line (which runs on Debian's
    // Node only: the image ships it), instead of after everything.
    const ltsCode = lts ? await ltsLeg() : 0;
    if (ltsCode !== 0) console.error(`run-tests: the suite on the Node LTS failed (exit ${ltsCode})`);
    return { group, code: code !== 0 ? code : ltsCode, log: null };
  }
  // Alone (only image tests asked for), the line reports straight to the terminal.
  const log = groups.length > 1 ? join(mkdtempSync(join(tmpdir(), `otgw-tests-${group.name}-`)), "report.txt") : null;
  if (log) console.log(`run-tests: the ${group.name} tests (${group.files.length} files, one at a time) run beside the rest; their report: ${log} (printed when they end)`);
  const out = log ? createWriteStream(log) : null;
  let code = 0;
  for (const f of group.files) {
    const head = `\n===== ${f.slice(dir.length + 1)} =====\n`;
    if (out) out.write(head);
    else process.stdout.write(head);
    const c = await runner([f], 1, out);
    if (c !== 0) code = c;
  }
  if (out) await new Promise((r) => out.end(r));
  return { group, code, log };
}

// Reports are printed once every runner has ended: a logged report never lands inside the live one.
const results = await Promise.all(groups.map((g) => run(g)));
let failed = false;
for (const { group, code, log } of results) {
  if (log) {
    console.log(`\n===== run-tests: the ${group.name} tests' report (${log}) =====`);
    process.stdout.write(readFileSync(log, "utf8"));
    console.log(`===== end of the ${group.name} tests' report =====`);
  }
  if (code !== 0) {
    failed = true;
    console.error(`run-tests: the ${group.name} tests failed (exit ${code})`);
  }
}
process.exit(failed ? 1 : 0);
