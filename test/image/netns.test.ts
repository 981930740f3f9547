import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { repoRoot } from "../../kernel/paths.js";
import { PORTS, templateConfig } from "./configs.js";
import { imageDir, otgwCli, requireTool, run } from "./tools.js";

/**
 * Issue #7's proof of the egress allowlist for real: a "gateway" and a "network" namespace joined by
 * a veth pair. The rules are rendered and loaded by the image's own loader (egress-load) inside the
 * gateway namespace; a probe there connects to listeners on the network side. Allowed destinations
 * connect, everything else times out and is counted. Then a broken config must fail closed.
 */

const GW = 1; // 10.X.Y.1: the gateway
const CLOUD = 2; // 10.X.Y.2 / fd00:..::2: broker + EST
const PLANT = 3; // 10.X.Y.3: PLC + OPC UA server (a second address on the same peer)
const tag = `${process.pid}`;
const nsGw = `otgw-gw-${tag}`;
const nsNet = `otgw-net-${tag}`;
const net4 = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
const v4 = (h: number): string => `${net4}.${h}`;
const v6 = (h: number): string => `fd00:6f74:6777::${h}`;
const probe = join(repoRoot(), "dist", "test", "image", "probe.js");
const loader = join(imageDir(), "overlay", "usr", "lib", "otgw", "egress-load");

type Target = { proto: "tcp" | "udp"; host: string; port: number };
const tcp = (host: string, port: number): Target => ({ proto: "tcp", host, port });
const udp = (host: string, port: number): Target => ({ proto: "udp", host, port });

async function ip(...args: string[]): Promise<void> {
  const r = await run("ip", args);
  assert.equal(r.code, 0, `ip ${args.join(" ")}: ${r.stderr}`);
}

async function probeFrom(ns: string, targets: Target[]): Promise<string[]> {
  const r = await run("ip", ["netns", "exec", ns, process.execPath, probe, "connect", JSON.stringify(targets)]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

function listenIn(ns: string, specs: string[], children: ChildProcess[]): Promise<void> {
  const p = spawn("ip", ["netns", "exec", ns, process.execPath, probe, "listen", ...specs], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(p);
  return new Promise((resolve, reject) => {
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.stdout.on("data", (d: Buffer) => { if (d.toString().includes("ready")) resolve(); });
    p.once("exit", (code) => reject(new Error(`listener in ${ns} exited ${code}: ${err}`)));
  });
}

async function counter(name: string): Promise<number> {
  const r = await run("ip", ["netns", "exec", nsGw, "nft", "-j", "list", "counter", "inet", "otgw_egress", name]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { nftables: Array<{ counter?: { packets: number } }> };
  const c = doc.nftables.find((x) => x.counter)?.counter;
  assert.ok(c, `counter ${name} in ${r.stdout}`);
  return c.packets;
}

async function load(dir: string, config: unknown): Promise<{ code: number | null; stderr: string; status: string }> {
  const file = join(dir, "config.yaml");
  writeFileSync(file, toYaml(config));
  const r = await run("ip", ["netns", "exec", nsGw, "sh", loader, file], {
    env: {
      ...process.env, OTGW_NODE: process.execPath, OTGW_CLI: otgwCli(), OTGW_EGRESS_RUN: join(dir, "run"),
      OTGW_EGRESS_CLOSED: join(imageDir(), "overlay", "usr", "lib", "otgw", "egress-closed.nft"), OTGW_NFT: "nft", OTGW_EGRESS_SSH: "yes",
    },
  });
  let status = "";
  try { status = readFileSync(join(dir, "run", "status"), "utf8"); } catch { /* none written */ }
  return { code: r.code, stderr: r.stderr, status };
}

void test("egress allowlist in two network namespaces: allowed connects succeed, the rest are dropped and counted; a bad config fails closed", async (t) => {
  requireTool("ip", "iproute2");
  requireTool("nft", "nftables");
  const dir = mkdtempSync(join(tmpdir(), "otgw-netns-"));
  const children: ChildProcess[] = [];
  try {
    await ip("netns", "add", nsGw);
    await ip("netns", "add", nsNet);
    // Created directly inside the namespaces, so the names never collide with the host's links.
    await ip("link", "add", "veth-gw", "netns", nsGw, "type", "veth", "peer", "name", "veth-net", "netns", nsNet);
    await ip("-n", nsGw, "addr", "add", `${v4(GW)}/24`, "dev", "veth-gw");
    await ip("-n", nsGw, "addr", "add", `${v6(GW)}/64`, "dev", "veth-gw", "nodad");
    for (const h of [CLOUD, PLANT]) await ip("-n", nsNet, "addr", "add", `${v4(h)}/24`, "dev", "veth-net");
    await ip("-n", nsNet, "addr", "add", `${v6(CLOUD)}/64`, "dev", "veth-net", "nodad");
    for (const [ns, dev] of [[nsGw, "veth-gw"], [nsNet, "veth-net"]] as const) {
      await ip("-n", ns, "link", "set", "lo", "up");
      await ip("-n", ns, "link", "set", dev, "up");
    }
    // Network side: broker, PLC, OPC UA, a stray service; DNS and NTP answer over UDP. No EST listener:
    // an allowed port without a listener must come back "refused" (the SYN got through).
    await listenIn(nsNet, [`tcp:${PORTS.mqtts}`, `tcp:${PORTS.modbus}`, `tcp:${PORTS.opcua}`, "tcp:2222", "udp:53", "udp:123"], children);
    await listenIn(nsGw, ["tcp:22", "tcp:8080"], children);

    // Before any rules: everything connects (the test set-up itself is sound).
    assert.deepEqual(await probeFrom(nsGw, [tcp(v4(CLOUD), 2222), tcp(v4(PLANT), PORTS.mqtts), udp(v4(CLOUD), 53)]), ["open", "open", "open"], "no rules yet");

    const config = templateConfig({ cloud: "broker.test", plc: v4(PLANT), opcua: v4(PLANT) }, { hosts: { "broker.test": [v4(CLOUD), v6(CLOUD)] } });
    const loaded = await load(dir, config);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.status, /^allowlist: /);

    const before = await counter("dropped_out");
    const allowed: Array<[Target, string]> = [
      [tcp(v4(CLOUD), PORTS.mqtts), "open"], [tcp(v6(CLOUD), PORTS.mqtts), "open"], [tcp(v4(CLOUD), PORTS.est), "refused"],
      [tcp(v4(PLANT), PORTS.modbus), "open"], [tcp(v4(PLANT), PORTS.opcua), "open"], [udp(v4(CLOUD), 123), "open"],
      [tcp("127.0.0.1", 22), "open"],
    ];
    const blocked: Target[] = [
      tcp(v4(CLOUD), 2222), tcp(v6(CLOUD), 2222), // a port nobody configured
      tcp(v4(PLANT), PORTS.mqtts), // the broker's port, wrong address
      tcp(v4(CLOUD), PORTS.modbus), tcp(v4(CLOUD), PORTS.opcua), // plant protocols toward the cloud side
      udp(v4(CLOUD), 53), // DNS is not configured
    ];
    const got = await probeFrom(nsGw, [...allowed.map(([x]) => x), ...blocked]);
    const want = [...allowed.map(([, o]) => o), ...blocked.map(() => "timeout")];
    const label = [...allowed.map(([x]) => x), ...blocked].map((x, i) => `${x.proto} ${x.host}:${x.port} ${got[i]}`).join("\n");
    assert.deepEqual(got, want, label);
    const after = await counter("dropped_out");
    t.diagnostic(`dropped_out ${before} -> ${after}`);
    assert.ok(after - before >= blocked.length, `every blocked attempt is counted (${before} -> ${after})`);

    // Inbound: nothing unsolicited except SSH (rendered with --ssh here).
    const inBefore = await counter("dropped_in");
    assert.deepEqual(await probeFrom(nsNet, [tcp(v4(GW), 22), tcp(v4(GW), 8080), tcp(v6(GW), 8080)]), ["open", "timeout", "timeout"]);
    assert.ok((await counter("dropped_in")) - inBefore >= 2, "blocked inbound is counted");

    // Fail closed: a config the renderer rejects leaves only loopback, never the old or an open network.
    const broken = templateConfig({ cloud: "broker.test", plc: v4(PLANT), opcua: v4(PLANT) });
    const closed = await load(dir, broken);
    assert.equal(closed.code, 1, "the unit fails visibly");
    assert.match(closed.stderr, /\/uplink\/url: host "broker\.test" is a name/);
    assert.match(closed.stderr, /loading the fail-closed ruleset/);
    assert.match(closed.status, /^closed: /);
    const cBefore = await counter("dropped_out");
    assert.deepEqual(await probeFrom(nsGw, [tcp(v4(CLOUD), PORTS.mqtts), udp(v4(CLOUD), 123), tcp("127.0.0.1", 22)]), ["timeout", "timeout", "open"]);
    assert.ok((await counter("dropped_out")) - cBefore >= 2);
    assert.deepEqual(await probeFrom(nsNet, [tcp(v4(GW), 22)]), ["timeout"], "fail-closed drops SSH too");
  } finally {
    for (const c of children) c.kill("SIGKILL");
    for (const ns of [nsGw, nsNet]) await run("ip", ["netns", "del", ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
