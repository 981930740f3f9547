import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { PORTS, templateConfig } from "./configs.js";
import { otgwCli, requireTool, run, type RunResult } from "./tools.js";

const dir = mkdtempSync(join(tmpdir(), "otgw-egress-render-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Renders a config (written as YAML, like /etc/otgw/config.yaml) through the CLI. */
async function render(cfg: unknown, ...flags: string[]): Promise<RunResult & { rules: string; file: string }> {
  const base = join(dir, `c${++n}`);
  writeFileSync(`${base}.yaml`, toYaml(cfg));
  const r = await run(process.execPath, [otgwCli(), "egress", "render", "--config", `${base}.yaml`, "--out", `${base}.nft`, ...flags]);
  let rules = "";
  try { rules = readFileSync(`${base}.nft`, "utf8"); } catch { /* not rendered */ }
  return { ...r, rules, file: `${base}.nft` };
}

/** `nft -c -f`: the kernel's own parser and validator, without loading anything. */
async function nftCheck(file: string): Promise<void> {
  const r = await run("nft", ["-c", "-f", file]);
  assert.equal(r.stderr, "", `nft -c rejected ${file}:\n${readFileSync(file, "utf8")}`);
  assert.equal(r.code, 0);
}

const peers = { cloud: "192.0.2.10", plc: "10.1.2.7", opcua: "10.1.2.5" };
const chain = (rules: string, name: string): string => new RegExp(`chain ${name} \\{([\\s\\S]*?)\\n\\t\\}`).exec(rules)?.[1] ?? "";

void test("plain config: broker, EST and plant peers on their ports, NTP, DHCP; no DNS, no SSH; nft -c accepts it", async () => {
  requireTool("nft", "nftables");
  const r = await render(templateConfig(peers));
  assert.equal(r.code, 0, r.stderr);
  const out = chain(r.rules, "output");
  assert.match(out, new RegExp(`ip daddr 192\\.0\\.2\\.10 tcp dport ${PORTS.mqtts} accept comment "uplink /uplink/url"`));
  assert.match(out, new RegExp(`ip daddr 192\\.0\\.2\\.10 tcp dport ${PORTS.est} accept comment "est /identity/est/url"`));
  assert.match(out, new RegExp(`ip daddr 10\\.1\\.2\\.7 tcp dport ${PORTS.modbus} accept comment "modbus-tcp plc1 /sources/0/host"`));
  assert.match(out, new RegExp(`ip daddr 10\\.1\\.2\\.5 tcp dport ${PORTS.opcua} accept comment "opcua press1 /sources/1/endpointUrl"`));
  assert.match(out, /udp dport 123 accept/);
  assert.match(out, /policy drop;/);
  assert.match(out, /counter name "dropped_out" drop\s*$/);
  assert.doesNotMatch(r.rules, /dport 53/, "no DNS unless configured");
  assert.doesNotMatch(r.rules, /dport 22/, "no SSH unless asked");
  assert.match(chain(r.rules, "input"), /policy drop;[\s\S]*ct state established,related accept/);
  assert.match(chain(r.rules, "forward"), /policy drop;/);
  // Exactly the four endpoint rules: nothing else toward a specific address.
  assert.equal(out.match(/daddr/g)?.length, 4, out);
  await nftCheck(r.file);
});

void test("DNS and NTP servers when configured, IPv6 endpoints, SSH by flag, DHCP off: nft -c accepts it", async () => {
  requireTool("nft", "nftables");
  const cfg = templateConfig({ ...peers, cloud: "2001:db8::10" }, { dns: ["192.0.2.53", "2001:db8::53"], ntp: ["192.0.2.123"], dhcp: false });
  const r = await render(cfg, "--ssh");
  assert.equal(r.code, 0, r.stderr);
  const out = chain(r.rules, "output");
  assert.match(out, new RegExp(`ip6 daddr 2001:db8::10 tcp dport ${PORTS.mqtts} accept`));
  for (const proto of ["udp", "tcp"]) {
    assert.match(out, new RegExp(`ip daddr 192\\.0\\.2\\.53 ${proto} dport 53 accept`));
    assert.match(out, new RegExp(`ip6 daddr 2001:db8::53 ${proto} dport 53 accept`));
  }
  assert.match(out, /ip daddr 192\.0\.2\.123 udp dport 123 accept comment "ntp \/network\/ntp\/0"/);
  assert.doesNotMatch(out, /^\s*udp dport 123 accept/m, "NTP only to the configured server");
  assert.doesNotMatch(r.rules, /dport 67|dport 547/, "DHCP off");
  assert.match(chain(r.rules, "input"), /tcp dport 22 accept/);
  await nftCheck(r.file);
});

void test("host names are allowed through their pinned addresses (network.hosts); nft -c accepts it", async () => {
  requireTool("nft", "nftables");
  const cfg = templateConfig({ cloud: "broker.example.net", plc: "plc7.plant.local", opcua: "10.1.2.5" }, {
    dns: ["10.1.2.1"], hosts: { "Broker.Example.net": ["192.0.2.10", "2001:db8::10"], "plc7.plant.local": ["10.1.2.7"] },
  });
  const r = await render(cfg);
  assert.equal(r.code, 0, r.stderr);
  const out = chain(r.rules, "output");
  assert.match(out, new RegExp(`ip daddr 192\\.0\\.2\\.10 tcp dport ${PORTS.mqtts} accept`));
  assert.match(out, new RegExp(`ip6 daddr 2001:db8::10 tcp dport ${PORTS.mqtts} accept`));
  assert.match(out, new RegExp(`ip6 daddr 2001:db8::10 tcp dport ${PORTS.est} accept`));
  assert.match(out, new RegExp(`ip daddr 10\\.1\\.2\\.7 tcp dport ${PORTS.modbus} accept`));
  await nftCheck(r.file);
});

void test("bad configs render nothing and name every bad field", async () => {
  const unpinned = await render(templateConfig({ ...peers, cloud: "broker.example.net" }));
  assert.equal(unpinned.code, 1);
  assert.equal(unpinned.rules, "", "no ruleset written");
  assert.match(unpinned.stderr, /\/uplink\/url: host "broker\.example\.net" is a name; pin its addresses under network\.hosts/);
  assert.match(unpinned.stderr, /\/identity\/est\/url: host "broker\.example\.net"/);

  const badIps = await render(templateConfig(peers, { dns: ["dns.example.net"], hosts: { "x.example": ["300.1.1.1"] } }));
  assert.equal(badIps.code, 1);
  assert.match(badIps.stderr, /\/network\/dns\/0: "dns\.example\.net" is not an IP address/);
  assert.match(badIps.stderr, /\/network\/hosts\/x\.example\/0: "300\.1\.1\.1" is not an IP address/);

  const cfg = templateConfig(peers);
  delete (cfg.uplink as Record<string, unknown>).url;
  (cfg.sources as Array<Record<string, unknown>>)[1]!.endpointUrl = "opc.tcp://10.1.2.5:99999";
  const missing = await render(cfg);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/uplink\/url: missing/);
  assert.match(missing.stderr, /\/sources\/1\/endpointUrl: /);

  const noEst = templateConfig(peers);
  delete (noEst.identity as Record<string, unknown>).est;
  const warned = await render(noEst);
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /warning: identity\.est\.url is not set/);
});

void test("the full config loader rejects non-IP addresses in the network section too", async () => {
  const { crossFieldProblems } = await import("../../firmware/config/checks.js");
  const problems = crossFieldProblems(templateConfig(peers, { ntp: ["pool.ntp.org"] }));
  assert.ok(problems.some((p) => p.startsWith("/network/ntp/0: ")), problems.join("\n"));
});

void test("otgw check reports what otgw-egress loaded: the allowlist, or FAIL when it fell back to fail-closed", async () => {
  const { egressLine } = await import("../../bin/commands/gateway/check.js");
  const status = join(dir, "status");
  assert.deepEqual(egressLine(join(dir, "absent")), [], "no line off the image");
  writeFileSync(status, "allowlist: /etc/otgw/config.yaml\n");
  assert.deepEqual(egressLine(status).map((l) => [l.status, l.name]), [["OK", "egress"]]);
  writeFileSync(status, "closed: rendering the allowlist from /etc/otgw/config.yaml failed\n");
  const [line] = egressLine(status);
  assert.equal(line?.status, "FAIL");
  assert.match(line?.detail ?? "", /closed: rendering .* only loopback passes: fix the field named in `journalctl -u otgw-egress`/);
});
