/**
 * createGateway opens the gateway's state before start(): what the end-to-end tests do not show is that
 * a gateway stopped without starting, or whose wiring fails half way, leaves none of it open, and that
 * an audit log whose tail the gateway's key did not sign is refused before anything signs over it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { AuditError } from "../../kernel/errors.js";
import { AUDIT_EVENTS, type AuditEntry } from "../../firmware/audit/audit-log.js";
import { entryHash } from "../../firmware/audit/chain.js";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
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

void test("createGateway: a tail the gateway's key did not sign (a forged line with a correct chain hash) is refused before start signs over it", async () => {
  const stack = await newStack();
  try {
    const gw = await stack.addGateway("gw-tail", SIM_EXAMPLE());
    const file = join(gw.config.gateway.stateDir, "audit.jsonl");
    const first = await createGateway({ config: gw, logger: silentLogger() });
    const publicKey = first.identity.signer.publicKey();
    await first.gateway.start();
    await first.stop();
    assert.ok(verifyAuditFile(file, { publicKey }).ok, "the gateway's own run verifies");

    // Someone with write access to the state directory appends an entry, chained correctly.
    const last = JSON.parse(readFileSync(file, "utf8").trim().split("\n").at(-1)!) as AuditEntry;
    const body = { seq: last.seq + 1, ts: last.ts, tsNs: last.tsNs, type: AUDIT_EVENTS.configLoaded, data: { digest: "00".repeat(32) }, prev: last.hash };
    appendFileSync(file, JSON.stringify({ ...body, hash: entryHash(body) }) + "\n");
    const forged = readFileSync(file, "utf8");

    await assert.rejects(createGateway({ config: gw, logger: silentLogger() }), (e: unknown) => e instanceof AuditError && e.code === "AUDIT_TAIL_UNAUTHENTICATED" && e.message.includes(file));
    assert.equal(readFileSync(file, "utf8"), forged, "nothing signed over it, nothing written");
    assert.deepEqual(openUnder(gw.config.gateway.stateDir), [], "the queue and quarantine are closed again");
  } finally {
    await stack.stop();
  }
});
