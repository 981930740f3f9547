/**
 * node-opcua's own output goes through the structured log: a source started in a child process against
 * a real node-opcua server, with an unknown node id in its items and the application certificate an
 * earlier version left in its pki dir (node-opcua's default, which makes node-opcua warn W06 with a
 * multi-line dump), writes only JSON log records to stderr (no raw node-opcua lines, on stderr or
 * stdout), W06 as one warn record, the unknown node as a warning, and no value it received.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { OPCUACertificateManager } from "node-opcua";
import { freePort } from "../../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer, type TestOpcuaServer } from "../../devkit/dev-plant/opcua-server.js";

const KNOWN = "ns=1;s=Pump1.Vibration";
const UNKNOWN = "ns=1;s=No.Such.Node";
let srv: TestOpcuaServer;

before(async () => {
  srv = await startOpcuaServer(await freePort(), mkdtempSync(join(tmpdir(), "otgw-ualogsrv-")));
});
after(async () => {
  await srv.stop();
});

/** A pki dir holding the certificate node-opcua made for gateways before they named their own. */
async function pkiWithDefaultCertificate(): Promise<string> {
  const pki = join(mkdtempSync(join(tmpdir(), "otgw-ualog-")), "pki");
  const cm = new OPCUACertificateManager({ rootFolder: pki });
  await cm.initialize();
  await cm.createSelfSignedCertificate({
    outputFile: join(pki, "own", "certs", "client_certificate.pem"), subject: "/CN=NodeOPCUA-Client@host/O=Sterfive/L=Orleans/C=FR",
    applicationUri: "urn:host:NodeOPCUA-Client", dns: ["host"], startDate: new Date(), validity: 30,
  });
  await cm.dispose();
  return pki;
}

function runChild(pki: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL("./opcua-logs-child.js", import.meta.url)), srv.endpointUrl, KNOWN, UNKNOWN, pki], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, OTGW_LOG_LEVEL: "debug" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

interface LogRecord { level: number; module?: string; msg?: string; address?: string; status?: string; code?: string }

void test("node-opcua's messages are structured records at the right level; the unknown node is a warning; no values in the log", async (t) => {
  const { code, stdout, stderr } = await runChild(await pkiWithDefaultCertificate());
  assert.equal(code, 0, stderr);
  const outLines = stdout.split("\n").filter((l) => l.trim() !== "");
  assert.equal(outLines.length, 1, `stdout is only the child's result line:\n${stdout}`);
  const result = JSON.parse(outLines[0]!) as { values: number[]; unknown: string[] };
  assert.ok(result.values.length >= 5, "the known node delivered");
  assert.deepEqual([...new Set(result.unknown)], ["opcua:BadNodeIdUnknown"]);

  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  const raw = lines.filter((l) => { try { return typeof (JSON.parse(l) as LogRecord).level !== "number"; } catch { return true; } });
  assert.deepEqual(raw, [], "every stderr line is a structured log record");
  const records = lines.map((l) => JSON.parse(l) as LogRecord);
  const fromLib = records.filter((r) => r.module === "node-opcua");
  t.diagnostic(`stderr: ${records.length} records, ${fromLib.length} from node-opcua (levels ${[...new Set(fromLib.map((r) => r.level))].join(",")})`);
  // W06 comes once per node-opcua client (two per start): one warning, the repeat at debug.
  const w06 = fromLib.filter((r) => r.code === "NODE-OPCUA-W06" && r.level === 40);
  assert.equal(w06.length, 1, JSON.stringify(fromLib));
  assert.match(w06[0]!.msg ?? "", /does not match the client applicationUri/);
  assert.ok(fromLib.every((r) => (r.msg ?? "").length <= 200 && !(r.msg ?? "").includes("\n")), "one line per message, no dumps");

  // Ours says what to do about it, once.
  assert.equal(records.filter((r) => r.level === 40 && r.module === "hal.opcua" && /made for another application URI/.test(r.msg ?? "")).length, 1);

  const refused = records.filter((r) => r.address === UNKNOWN);
  assert.equal(refused.length, 1, JSON.stringify(refused));
  assert.equal(refused[0]!.level, 40);
  assert.equal(refused[0]!.status, "BadNodeIdUnknown");

  for (const v of new Set(result.values)) {
    assert.doesNotMatch(stderr, new RegExp(`(?<![0-9.])${String(v).replace(".", "\\.")}(?![0-9])`), `value ${v} in the log`);
  }
});
