/**
 * createGateway opens the gateway's state before start(): what the end-to-end tests do not show is that
 * a gateway stopped without starting, or whose wiring fails half way, leaves none of it open, and that
 * the audit log still reads as when start() opened it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { systemClock } from "../../kernel/clock.js";
import { AuditLog, AUDIT_EVENTS } from "../../firmware/audit/audit-log.js";
import { SoftwareSigner } from "../../provisioning/software-keystore.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { newStack, SIM_EXAMPLE } from "../e2e/harness.js";

/** Files under `dir` this process holds open (Linux: /proc/self/fd). */
function openUnder(dir: string): string[] {
  const root = realpathSync(dir);
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(`${root}/`) ? [target] : [];
    } catch {
      return []; // closed while listing (the directory's own descriptor)
    }
  });
}

void test("createGateway: stopped without starting, the gateway closes its files and audits nothing; a failing step closes what it had opened", async () => {
  const stack = await newStack();
  try {
    const gw = await stack.addGateway("gw-wiring", SIM_EXAMPLE());
    const stateDir = gw.config.gateway.stateDir;
    const wired = await createGateway({ config: gw, logger: silentLogger() });
    const open = openUnder(stateDir);
    for (const f of ["queue.db", "quarantine.db", "audit.jsonl"]) assert.ok(open.some((p) => p.endsWith(`/${f}`)), `${f} is open once wired (${open.join(", ")})`);
    await wired.stop();
    assert.deepEqual(openUnder(stateDir), [], "nothing of the state left open");
    assert.equal(readFileSync(join(stateDir, "audit.jsonl"), "utf8"), "", "no start or stop audited: the gateway never ran");

    // An audit log whose last line is no entry is refused when it opens, after the queue and quarantine did.
    writeFileSync(join(stateDir, "audit.jsonl"), "not an audit entry\n");
    await assert.rejects(createGateway({ config: gw, logger: silentLogger() }), { code: "AUDIT_TAIL_INVALID" });
    assert.deepEqual(openUnder(stateDir), [], "the queue and quarantine are closed again");
  } finally {
    await stack.stop();
  }
});

void test("createGateway: entries a killed run left unsigned are signed at start, after the new run's first entries", async () => {
  const stack = await newStack();
  try {
    const gw = await stack.addGateway("gw-tail", SIM_EXAMPLE());
    const file = join(gw.config.gateway.stateDir, "audit.jsonl");
    // The killed run's last entry, with no checkpoint after it (the log is left as a SIGKILL leaves it).
    AuditLog.open(file, { signer: SoftwareSigner.generate(), clock: systemClock, checkpointEvery: 100 }).append("test.killed-run", {});
    const wired = await createGateway({ config: gw, logger: silentLogger() });
    await new Promise((r) => setImmediate(r)); // time for a signature to arrive before start (a software key signs at once)
    await wired.gateway.start();
    await wired.stop();
    const entries = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; data: { upTo?: number } });
    assert.deepEqual(entries.slice(0, 3).map((e) => e.type), ["test.killed-run", AUDIT_EVENTS.gatewayStart, AUDIT_EVENTS.configLoaded]);
    const first = entries.find((e) => e.type === AUDIT_EVENTS.checkpoint);
    assert.equal(first?.data.upTo, 1, "the first checkpoint covers the killed run's tail");
  } finally {
    await stack.stop();
  }
});
