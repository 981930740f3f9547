/**
 * Exact loss accounting across a gateway restart: frames the gateway's queue committed and then lost
 * (deleted from the queue file between runs) are reported by the receiver exactly, by session and
 * seq; everything else of the killed run is accounted for with nothing missing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { silentLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import { parseFrame } from "../../envelope/parse.js";
import { parseSessionMark } from "../../firmware/runtime/session-marks.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";

function runGateway(config: string, commitLog: string, maxRecords?: number): ChildProcess {
  const args = [join(repoRoot(), "dist", "bin", "otgw.js"), "run", "-c", config, "--commit-log", commitLog];
  if (maxRecords !== undefined) args.push("--max-records", String(maxRecords));
  return spawn(process.execPath, args, { stdio: ["ignore", "ignore", "ignore"], env: { ...process.env, OTGW_LOG_LEVEL: "warn" } });
}

const sizeOf = (file: string): number => (existsSync(file) ? statSync(file).size : 0);

void test("frames committed to the queue and lost before delivery are reported missing exactly; the rest of the killed run ends with nothing missing", async () => {
  const stack = await newStack();
  const gw = await stack.addGateway("gw-loss", SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 200;
    // No checkpoint inside the killed run: the lost tail is seen only through the session-end statement.
    cfg.envelope = { checkpointEveryMessages: 1_000_000, checkpointEveryMs: 3_600_000 };
  });
  const commitLog = join(stack.dir, "commit.log");
  const queueFile = join(gw.config.gateway.stateDir, "queue.db");
  const receiver = stack.receiver(silentLogger());
  try {
    // Run 1: the broker is down, so everything committed stays in the queue unacknowledged. Then SIGKILL.
    await stack.broker.stop();
    const first = runGateway(gw.file, commitLog);
    const exited = new Promise((r) => first.once("exit", r));
    await waitFor(() => {
      assert.equal(first.exitCode, null, "the first run keeps running (it did not start?)");
      return sizeOf(commitLog) > 2000;
    }, "the first run commits frames", 180_000);
    first.kill("SIGKILL");
    await exited;

    // Between the runs: delete the last committed data frame of one telemetry session from the queue file.
    const db = new Database(queueFile, { fileMustExist: true });
    const marks = new Map<string, bigint>();
    for (const r of db.prepare("SELECT name, value FROM marks").safeIntegers(true).all() as Array<{ name: string; value: bigint }>) {
      const m = parseSessionMark(r.name);
      if (m) marks.set(m.sessionIdHex, r.value);
    }
    const rows = db.prepare("SELECT id, stream, payload FROM queue ORDER BY id").all() as Array<{ id: number; stream: string; payload: Buffer }>;
    const lastData = new Map<string, { id: number; seq: bigint; stream: string }>();
    const controlAfter = new Map<string, number>();
    for (const r of rows) {
      const p = parseFrame(r.payload);
      assert.ok(p.ok, "the queue holds well-formed frames");
      const sid = p.frame.sessionId.toString("hex");
      if (p.frame.type === 2) lastData.set(sid, { id: r.id, seq: p.frame.seq, stream: r.stream });
      else if ((lastData.get(sid)?.id ?? 0) > 0) controlAfter.set(sid, r.id);
    }
    // The queue's marks are its commit log: each open session's mark is its last committed data frame.
    for (const [sid, last] of lastData) assert.equal(marks.get(sid), last.seq, `session ${sid}: mark = last data frame in the queue`);
    const victim = [...lastData].find(([sid, l]) => l.stream !== "audit" && l.seq >= 3n && !controlAfter.has(sid));
    assert.ok(victim, "a telemetry session with a few frames and nothing queued after its last one");
    const [lostSession, lost] = victim;
    assert.equal(db.prepare("DELETE FROM queue WHERE id = ?").run(lost.id).changes, 1);
    db.close();

    // Run 2: broker back, receiver up; the gateway announces the killed run's sessions, delivers, exits.
    await stack.broker.restart();
    await receiver.service.start();
    const second = runGateway(gw.file, commitLog, 200);
    assert.equal(await new Promise<number | null>((r) => second.once("exit", r)), 0, "the second run drains and exits cleanly");
    const { store } = receiver;
    await waitFor(() => (store.counts().events.SESSION_ENDED ?? 0) >= marks.size, "a session-end statement for every session of the killed run", 300_000);

    const events = store.db.prepare("SELECT kind, session_id AS s, detail FROM events WHERE kind IN ('SESSION_ENDED', 'FRAMES_MISSING', 'SESSION_UNCLOSED', 'CHECKPOINT_MISMATCH', 'SEQUENCE_GAP')").all() as Array<{ kind: string; s: string; detail: string }>;
    const missing = events.filter((e) => e.kind === "FRAMES_MISSING");
    assert.deepEqual(missing.map((e) => [e.s, e.detail]), [[lostSession, `1 frame(s) committed to the gateway's queue and never received: seq ${lost.seq}..${lost.seq}`]]);
    assert.deepEqual(events.filter((e) => e.kind !== "SESSION_ENDED" && e.kind !== "FRAMES_MISSING"), [], "no other gap, mismatch or unclosed session");
    const ended = new Map(events.filter((e) => e.kind === "SESSION_ENDED").map((e) => [e.s, e.detail]));
    assert.equal(ended.size, marks.size);
    for (const [sid, m] of marks) {
      const detail = ended.get(sid) ?? "";
      const expect = sid === lostSession ? `received up to ${m - 1n}; missing seq ${m}..${m} (1)` : `received up to ${m}; nothing missing`;
      assert.ok(detail.includes(`ended at committed seq ${m}; ${expect}`), `session ${sid}: ${detail}`);
    }
    const seqs = (store.db.prepare("SELECT seq FROM verified WHERE session_id = ? ORDER BY id").all(lostSession) as Array<{ seq: number }>).map((r) => r.seq);
    assert.deepEqual(seqs, Array.from({ length: Number(lost.seq) - 1 }, (_, i) => i + 1), "everything before the lost frame arrived once, in order");
    const c = store.counts();
    for (const reason of Object.keys(c.byReason)) assert.equal(reason, "REPLAY", `only redeliveries are refused: ${JSON.stringify(c.byReason)}`);
    console.log(`loss test: ${marks.size} sessions of the killed run announced; deleted seq ${lost.seq} of ${lost.stream} session ${lostSession.slice(0, 8)}, reported missing exactly: ${missing.length} event, 1 frame; ${c.verified} frames verified`);
  } finally {
    await receiver.service.stop();
    receiver.store.close();
    await stack.stop();
  }
});
