/**
 * `otgw update health`, the gate of boot-complete.target: a gateway whose service runs and whose
 * checks pass is healthy; a restarting service or an invalid config is not; an uplink that cannot
 * connect for a reason outside the gateway (the broker is down) is reported and does not fail the
 * update. Real broker (mosquitto), real identity and config; systemd's view of the unit is given (this
 * host runs no systemd), which is the one thing the QEMU boot proves.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { newStack, SIM_EXAMPLE } from "../e2e/harness.js";
import type { DevStack } from "../../devkit/dev-stack.js";
import { updateHealth } from "../../bin/commands/gateway/update.js";
import type { Io } from "../../bin/output.js";
import type { ServiceState } from "../../firmware/update/health.js";

let stack: DevStack;
let configFile: string;
before(async () => {
  stack = await newStack();
  configFile = (await stack.addGateway("gw-health-1", SIM_EXAMPLE())).file;
});
after(async () => {
  await stack.stop();
});

const running: ServiceState = { running: true, restarts: 0, detail: "otgw.service active/running, 0 restart(s)" };
const health = async (service: ServiceState, file = configFile): Promise<{ code: number; text: string }> => {
  const lines: string[] = [];
  const io: Io = { out: (l) => lines.push(l), err: (l) => lines.push(l) };
  const code = await updateHealth({ configFile: file, service: () => Promise.resolve(service) }, io);
  return { code, text: lines.join("\n") };
};

void test("healthy: the service runs, the config validates, the broker accepts the gateway", async () => {
  const r = await health(running);
  assert.equal(r.code, 0, r.text);
  assert.match(r.text, /^OK {4}broker \(mTLS\)/m);
  assert.match(r.text, /^healthy$/m);
});

void test("not healthy: the service restarted, or is not running", async () => {
  for (const s of [{ running: true, restarts: 2, detail: "otgw.service active/running, 2 restart(s)" }, { running: false, restarts: 0, detail: "otgw.service activating/auto-restart, 0 restart(s)" }]) {
    const r = await health(s);
    assert.equal(r.code, 1, r.text);
    assert.match(r.text, /^FAIL {2}service/m);
  }
});

void test("not healthy: the config does not validate", async () => {
  const bad = `${configFile}.bad.json`;
  writeFileSync(bad, JSON.stringify({ ...(JSON.parse(readFileSync(configFile, "utf8")) as object), notAField: 1 }));
  const r = await health(running, bad);
  assert.equal(r.code, 1, r.text);
  assert.match(r.text, /^FAIL {2}config/m);
});

void test("healthy with a reason: the broker is down, so the uplink cannot connect; the update is not to blame", async () => {
  await stack.broker.stop();
  const r = await health(running);
  assert.equal(r.code, 0, r.text);
  assert.match(r.text, /^WARN {2}broker \(mTLS\) +cannot connect, for a reason outside the gateway: .*ECONNREFUSED/m);
});
