import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import Database from "better-sqlite3";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import { mulberry32 } from "../../hal/sim/prng.js";
import { parseSessionMark } from "../../firmware/runtime/session-marks.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";

const TARGET = Number(process.env.OTGW_CRASH_MESSAGES ?? 100_000);
const KILLS = Number(process.env.OTGW_CRASH_KILLS ?? 22);

/** Highest committed data seq per session, from the gateway's commit log (what its queue accepted). */
function committed(file: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [, session, seq] = line.trim().split(" ");
    if (!session || !seq) continue; // a line torn by SIGKILL
    const n = BigInt(seq);
    if ((out.get(session) ?? 0n) < n) out.set(session, n);
  }
  return out;
}

/**
 * The sessions a killed gateway left open and the highest data seq its queue committed in each: the
 * queue file's own marks, read while no gateway runs (written in the frames' transaction, so exact
 * where the commit log can miss a line torn by the kill).
 */
function openMarks(queueFile: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (!existsSync(queueFile)) return out;
  const db = new Database(queueFile, { fileMustExist: true });
  try {
    const hasMarks = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'marks'").get();
    if (!hasMarks) return out; // killed before the queue's schema was created
    for (const r of db.prepare("SELECT name, value FROM marks").safeIntegers(true).all() as Array<{ name: string; value: bigint }>) {
      const m = parseSessionMark(r.name);
      if (m) out.set(m.sessionIdHex, r.value);
    }
  } finally {
    db.close();
  }
  return out;
}

const sizeOf = (file: string): number => (existsSync(file) ? statSync(file).size : 0);

const total = (m: Map<string, bigint>): number => [...m.values()].reduce((a, b) => a + Number(b), 0);

function runGateway(config: string, commitLog: string, maxRecords?: number): ChildProcess {
  const args = [join(repoRoot(), "dist", "bin", "otgw.js"), "run", "-c", config, "--commit-log", commitLog];
  if (maxRecords !== undefined) args.push("--max-records", String(maxRecords));
  return spawn(process.execPath, args, { stdio: ["ignore", "ignore", "ignore"], env: { ...process.env, OTGW_LOG_LEVEL: "warn" } });
}

void test(`gateway SIGKILLed at least ${KILLS} times while ${TARGET} messages flow: the receiver ends with every accepted message exactly once, in order`, async () => {
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger());
  await service.start();
  const gw = await stack.addGateway("gw-crash", SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 400;
    cfg.envelope = { checkpointEveryMessages: 500, checkpointEveryMs: 1000 };
    // This test is about crashes, not the byte bound: at 400 Hz a slow (loaded) CI machine can build a
    // backlog past the example's 64 MiB, and frames the bound drops are a loss the receiver rightly
    // reports (FRAMES_MISSING), which is the bound's own test's business (disk-full, loss-accounting).
    cfg.queue = { ...(cfg.queue as Record<string, unknown> | undefined), maxBytes: 1024 * 1024 * 1024 };
  });
  const commitLog = join(stack.dir, "commit.log");
  const queueFile = join(gw.config.gateway.stateDir, "queue.db");
  /** Every session a kill left open, with where the queue says it ended. */
  const killed = new Map<string, bigint>();
  const rnd = mulberry32(20261125);
  let kills = 0;
  try {
    // Kill at random moments until the queue has accepted TARGET messages and at least KILLS kills happened.
    while (kills < KILLS || total(committed(commitLog)) < TARGET) {
      const before = sizeOf(commitLog);
      const child = runGateway(gw.file, commitLog);
      const exited = new Promise((r) => child.once("exit", r));
      if (kills % 5 === 4) {
        // Every fifth kill lands during start-up (queue opening, salvage, session opening).
        await sleep(Math.floor(rnd() * 300));
      } else {
        // The others land at a random moment after the restarted gateway has committed again, so the
        // loop makes progress however slow the machine is (no assumption about start-up time).
        await waitFor(() => sizeOf(commitLog) > before, "the restarted gateway commits", 180_000);
        await sleep(Math.floor(rnd() * 1500));
      }
      child.kill("SIGKILL");
      await exited;
      kills++;
      for (const [session, seq] of openMarks(queueFile)) {
        // A session still marked from an earlier kill (the run died before announcing it) keeps its end.
        const known = killed.get(session);
        assert.ok(known === undefined || known === seq, `session ${session}: its mark never moves after its run died`);
        killed.set(session, seq);
      }
      assert.ok(kills < 400, "the crash loop makes progress");
    }
    // One last clean run: accept a few more, then deliver the whole backlog and exit.
    const last = runGateway(gw.file, commitLog, 100);
    const code = await new Promise<number | null>((r) => last.once("exit", r));
    assert.equal(code, 0, "the final run drains and exits cleanly");

    const want = committed(commitLog);
    const wantTotal = total(want);
    assert.ok(wantTotal >= TARGET, `accepted ${wantTotal}`);
    const have = (): Map<string, bigint[]> => {
      const m = new Map<string, bigint[]>();
      for (const r of store.verifiedRecords()) {
        let list = m.get(r.sessionId);
        if (!list) m.set(r.sessionId, (list = []));
        list.push(r.seq);
      }
      return m;
    };
    await waitFor(() => store.counts().verified >= wantTotal, "every accepted message at the receiver", 300_000);
    // The total alone can be reached early (a log line torn by SIGKILL undercounts a session): wait
    // until every session has all its accepted messages, or the receiver may still be catching up.
    const perSession = store.db.prepare("SELECT session_id AS s, count(*) AS n FROM verified GROUP BY session_id");
    await waitFor(() => {
      const n = new Map((perSession.all() as Array<{ s: string; n: number }>).map((r) => [r.s, r.n]));
      return [...want].every(([s, last]) => (n.get(s) ?? 0) >= Number(last));
    }, "every session's accepted messages at the receiver", 300_000);
    const got = have();
    for (const [session, last] of want) {
      const seqs = got.get(session) ?? [];
      // Exactly once, in order: the receiver's rows of the session are 1, 2, 3, ... with nothing missing or repeated.
      for (let i = 0; i < Number(last); i++) assert.equal(seqs[i], BigInt(i + 1), `session ${session}: position ${i}`);
    }
    // A kill leaves its open sessions without a final checkpoint; the next run states, signed, where
    // each ended in its queue. Every killed session is accounted for exactly: the receiver's end is
    // the queue's commit, every frame up to it arrived once, nothing is missing.
    assert.equal(openMarks(queueFile).size, 0, "the clean run announced every session left open and closed its own");
    assert.ok(killed.size >= kills / 2, `kills left sessions open (${killed.size})`);
    await waitFor(() => store.counts().events.SESSION_ENDED === killed.size, "a session-end statement for every killed session", 300_000);
    const ends = new Map((store.db.prepare(
      "SELECT session_id AS s, json_extract(state, '$.endSeq') AS e, json_extract(state, '$.closed') AS closed FROM sessions",
    ).all() as Array<{ s: string; e: string | null; closed: number }>).map((r) => [r.s, r]));
    let sameAsLog = 0;
    const got2 = have();
    for (const [session, end] of killed) {
      const row = ends.get(session);
      assert.ok(row, `killed session ${session} is known to the receiver`);
      assert.equal(row.closed, 0, `killed session ${session} has no final checkpoint`);
      assert.equal(row.e, end.toString(), `session ${session}: the receiver's end equals the queue's commit`);
      const logged = want.get(session) ?? 0n;
      assert.ok(end >= logged, `session ${session}: the queue committed at least what the commit log says (${end} vs ${logged})`);
      if (end === logged) sameAsLog++;
      const seqs = got2.get(session) ?? [];
      assert.deepEqual(seqs, Array.from({ length: Number(end) }, (_, i) => BigInt(i + 1)), `session ${session}: exactly 1..${end} received once`);
    }
    for (const [session, row] of ends) {
      assert.ok(row.closed === 1 || killed.has(session), `session ${session} is closed by its final checkpoint or ended by a statement`);
    }
    const c = store.counts();
    assert.equal(c.events.FRAMES_MISSING ?? 0, 0, "no accepted frame is missing");
    assert.equal(c.events.CHECKPOINT_MISMATCH ?? 0, 0, "no statement or checkpoint disagrees");
    assert.equal(c.events.SESSION_UNCLOSED ?? 0, 0, "no session is left merely unclosed");
    assert.equal(c.events.RECEIVED_AFTER_END ?? 0, 0, "every statement arrived after its session's frames");
    for (const reason of Object.keys(c.byReason)) assert.equal(reason, "REPLAY", `only redeliveries are refused, got ${JSON.stringify(c.byReason)}`);
    console.log(`crash test: ${kills} SIGKILLs, ${wantTotal} accepted messages in ${want.size} sessions, all verified once; ` +
      `${killed.size} killed sessions announced and ended exactly where the queue committed (${sameAsLog} also equal to the commit log, ` +
      `${killed.size - sameAsLog} past a log line torn by the kill), 0 missing; redeliveries refused as REPLAY: ${c.byReason.REPLAY ?? 0}`);
  } finally {
    await service.stop();
    store.close();
    await stack.stop();
  }
});
