/**
 * One gateway per state directory (firmware/runtime/state-lock.ts): a second `otgw run` on the same
 * directory exits at once, naming the directory and the running one's pid, before it opens anything;
 * a SIGKILLed gateway leaves no lock behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { LOCK_FILE, StateDirLock } from "../../firmware/runtime/state-lock.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";

interface Run { child: ChildProcess; stderr: () => string; exited: Promise<number | null> }

function run(config: string, commitLog: string): Run {
  const child = spawn(process.execPath, [join(repoRoot(), "dist", "bin", "otgw.js"), "run", "-c", config, "--commit-log", commitLog], {
    stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, OTGW_LOG_LEVEL: "warn" },
  });
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

const sizeOf = (file: string): number => (existsSync(file) ? statSync(file).size : 0);

void test("a second `otgw run` on a running gateway's state directory exits non-zero naming the directory and the holder's pid; after a SIGKILL the next start succeeds", async () => {
  const stack = await newStack();
  const runs: Run[] = [];
  try {
    const gw = await stack.addGateway("gw-lock", SIM_EXAMPLE());
    const stateDir = gw.config.gateway.stateDir;
    const commitLog = join(stack.dir, "commit.log");
    const first = run(gw.file, commitLog);
    runs.push(first);
    await waitFor(() => sizeOf(commitLog) > 0 || first.child.exitCode !== null, "the first gateway to commit readings");
    assert.equal(first.child.exitCode, null, `the first gateway runs: ${first.stderr()}`);
    const auditBefore = readFileSync(join(stateDir, "audit.jsonl"), "utf8");

    const secondLog = join(stack.dir, "commit-2.log");
    const second = run(gw.file, secondLog);
    runs.push(second);
    // It either exits or, unlocked, runs beside the first and commits readings of its own.
    await waitFor(() => second.child.exitCode !== null || second.child.signalCode !== null || sizeOf(secondLog) > 0, "the second gateway to exit or commit");
    assert.equal(sizeOf(secondLog), 0, "the second gateway committed nothing: it never ran beside the first");
    const code = await second.exited;
    assert.notEqual(code, 0, "the second gateway exits non-zero");
    assert.ok(second.stderr().includes("STATE_DIR_BUSY"), second.stderr());
    assert.ok(second.stderr().includes(`state directory ${stateDir} `), `names the state directory: ${second.stderr()}`);
    assert.ok(second.stderr().includes(`pid ${first.child.pid}`), `names the holder's pid ${first.child.pid}: ${second.stderr()}`);
    assert.equal(first.child.exitCode, null, "the first gateway still runs");
    assert.ok(readFileSync(join(stateDir, "audit.jsonl"), "utf8").startsWith(auditBefore), "the second one wrote nothing into the audit log (it only grew at its end)");

    first.child.kill("SIGKILL");
    await first.exited;
    const killedAt = sizeOf(commitLog);
    const third = run(gw.file, commitLog);
    runs.push(third);
    await waitFor(() => sizeOf(commitLog) > killedAt || third.child.exitCode !== null, "the next gateway to commit readings");
    assert.equal(third.child.exitCode, null, `the gateway after the SIGKILL runs (no stale lock): ${third.stderr()}`);
    third.child.kill("SIGTERM");
    assert.equal(await third.exited, 0, third.stderr());
  } finally {
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
    await stack.stop();
  }
});

void test("createGateway twice on one state directory in one process: the second is refused before it opens anything; after stop() it is not", async () => {
  const stack = await newStack();
  try {
    const gw = await stack.addGateway("gw-lock-inproc", SIM_EXAMPLE());
    const wired = await createGateway({ config: gw, logger: silentLogger() });
    await assert.rejects(createGateway({ config: gw, logger: silentLogger() }), (err: Error & { code?: string }) => {
      assert.equal(err.code, "STATE_DIR_BUSY");
      assert.ok(err.message.includes(gw.config.gateway.stateDir), err.message);
      assert.ok(err.message.includes(`pid ${process.pid}`), err.message);
      return true;
    });
    await wired.stop();
    const again = await createGateway({ config: gw, logger: silentLogger() });
    await again.stop();
  } finally {
    await stack.stop();
  }
});

void test("a lock file that is not the lock (garbage): STATE_DIR_LOCK naming it and saying to remove it if no gateway runs; once removed, the lock is taken", () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-lock-"));
  try {
    const file = join(dir, LOCK_FILE);
    writeFileSync(file, Buffer.alloc(4096, 0x5a));
    assert.throws(() => StateDirLock.take(dir), (err: Error & { code?: string }) => {
      assert.equal(err.code, "STATE_DIR_LOCK");
      assert.ok(err.message.includes(file), err.message);
      assert.match(err.message, /if no gateway runs .* remove/);
      return true;
    });
    rmSync(file);
    const lock = StateDirLock.take(dir);
    assert.equal(lock.held, true);
    assert.throws(() => StateDirLock.take(dir), { code: "STATE_DIR_BUSY" });
    lock.release();
    assert.equal(lock.held, false);
    StateDirLock.take(dir).release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
