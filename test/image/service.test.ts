import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { newStack, SIM_EXAMPLE } from "../e2e/harness.js";
import { until } from "../../devkit/until.js";
import { otgwCli, requireTool, run } from "./tools.js";

/**
 * What otgw.service runs, without systemd: `otgw service` with NOTIFY_SOCKET pointing at a unix
 * datagram socket this test reads through socat (Node cannot bind one), so the sd_notify messages a
 * real systemd would get are observable. The device starts unprovisioned and must wait, ready and
 * petting the watchdog; once a provisioned config appears it runs the gateway for real (mosquitto,
 * receiver) until SIGTERM.
 */
void test("otgw service: unprovisioned → READY=1, status and watchdog pings while waiting, `otgw check` says so; provisioned → runs and delivers; SIGTERM → STOPPING=1, exit 0", async (t) => {
  requireTool("socat", "socat");
  const dir = mkdtempSync(join(tmpdir(), "otgw-service-"));
  const sock = join(dir, "notify.sock");
  const stateDir = join(dir, "var-lib-otgw");
  mkdirSync(stateDir, { mode: 0o700 });
  const config = join(stateDir, "config.json");
  const children: ChildProcess[] = [];
  let notified = "";
  let log = "";
  const socat = spawn("socat", ["-u", `UNIX-RECV:${sock}`, "STDOUT"], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(socat);
  socat.stdout.on("data", (d: Buffer) => (notified += d.toString()));
  const stack = await newStack();
  const { service: receiver, store } = stack.receiver(silentLogger());
  try {
    await until("socat's notify socket", () => existsSync(sock));
    const svc = spawn(process.execPath, [otgwCli(), "service", "-c", config, "--template", "/etc/otgw/config.yaml", "--poll-ms", "200"], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, NOTIFY_SOCKET: sock, WATCHDOG_USEC: "200000", OTGW_LOG_LEVEL: "info" },
    });
    children.push(svc);
    svc.stderr.on("data", (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((r) => svc.once("exit", r));

    await until("READY=1 with the unprovisioned status", () => /READY=1\nSTATUS=unprovisioned: run otgw provision --template \/etc\/otgw\/config\.yaml/.test(notified), 60_000);
    await until("the log says what to run", () => log.includes("unprovisioned:") && log.includes(`otgw provision --template /etc/otgw/config.yaml --out ${config}`));
    await until("watchdog pings while waiting", () => (notified.match(/WATCHDOG=1/g)?.length ?? 0) >= 3, 60_000);
    assert.equal(svc.exitCode, null, "still running while unprovisioned");

    const check = await run(process.execPath, [otgwCli(), "check", "-c", config]);
    assert.equal(check.code, 2, check.stdout);
    assert.match(check.stdout, /^UNPROV +config +.*does not exist/m);
    assert.match(check.stdout, /unprovisioned; run: otgw provision --template \/etc\/otgw\/config\.yaml --out /);

    // A config that is there but broken is reported by field, and waited on (no restart loop).
    writeFileSync(join(stateDir, "cert.pem"), "not yet\n");
    writeFileSync(config, JSON.stringify({ version: 1, identity: { certFile: "cert.pem" } }));
    await until("the invalid config is reported by field", () => /provisioned config is invalid/.test(log) && /\/gateway/.test(log), 60_000);
    await until("STATUS=config invalid", () => notified.includes("STATUS=config invalid"));
    assert.equal(svc.exitCode, null, "still running with a broken config");

    // Provisioning (here: the dev stack's software identity) writes the config atomically.
    await receiver.start();
    const gw = await stack.addGateway("gw-service", SIM_EXAMPLE());
    writeFileSync(`${config}.tmp`, readFileSync(gw.file));
    renameSync(`${config}.tmp`, config);
    await until("STATUS=running", () => /READY=1\nSTATUS=running from /.test(notified), 60_000);
    assert.match(log, /provisioned config found; starting the gateway/);
    await until("records verified at the receiver", () => store.counts().verified > 0, 120_000);
    const pings = notified.match(/WATCHDOG=1/g)?.length ?? 0;
    await until("watchdog pings while running", () => (notified.match(/WATCHDOG=1/g)?.length ?? 0) >= pings + 3, 60_000);

    svc.kill("SIGTERM");
    assert.equal(await exited, 0, log.slice(-2000));
    await until("STOPPING=1", () => notified.includes("STOPPING=1"));
    t.diagnostic(`notify messages: ${notified.split("\n").filter((l) => !l.startsWith("WATCHDOG")).length} status lines, ${notified.match(/WATCHDOG=1/g)?.length ?? 0} watchdog pings`);
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await receiver.stop();
    store.close();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("otgw service without NOTIFY_SOCKET stops cleanly on SIGTERM while unprovisioned", async () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-service-"));
  try {
    let log = "";
    const svc = spawn(process.execPath, [otgwCli(), "service", "-c", join(dir, "config.yaml"), "--poll-ms", "100"], { stdio: ["ignore", "ignore", "pipe"] });
    svc.stderr.on("data", (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((r) => svc.once("exit", r));
    await until("unprovisioned logged", () => log.includes("unprovisioned:"), 60_000);
    svc.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.match(log, /stopped while waiting for provisioning/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("provisioning as root into the service user's state directory hands the new files over to that user", async () => {
  assert.equal(process.getuid?.(), 0, "this test needs root (the CI machine runs the suite as root)");
  const { handOverTo } = await import("../../provisioning/attest/files.js");
  const dir = mkdtempSync(join(tmpdir(), "otgw-handover-"));
  try {
    const state = join(dir, "state");
    mkdirSync(join(state, "identity"), { recursive: true });
    writeFileSync(join(state, "identity", "gateway.cert.pem"), "x");
    writeFileSync(join(state, "config.yaml.tmp"), "x");
    writeFileSync(join(state, "other"), "x");
    const { chownSync, statSync } = await import("node:fs");
    chownSync(state, 4242, 4343); // the service user's directory (otgw:otgw on the image)
    handOverTo(state, [join(state, "identity"), join(state, "keys"), join(state, "config.yaml.tmp")]);
    for (const f of ["identity", "identity/gateway.cert.pem", "config.yaml.tmp"]) {
      const st = statSync(join(state, f));
      assert.deepEqual([st.uid, st.gid], [4242, 4343], f);
    }
    assert.equal(statSync(join(state, "other")).uid, 0, "only the files it was given");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
