import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import { GATEWAY_NODE_FLAGS } from "../../firmware/runtime/gateway.js";
import { TrustStore } from "../../hal/opcua/trust-store.js";
import { startFieldPlant } from "../../devkit/dev-plant/field-plant.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";

const root = repoRoot();

/** Text files of the repository that may state how the gateway process is started. */
function statements(): Array<{ file: string; line: number; text: string }> {
  const out: Array<{ file: string; line: number; text: string }> = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const n of readdirSync(p)) if (!["node_modules", "dist", ".git", "out", "bench-out", "demo-out"].includes(n)) walk(join(p, n));
      return;
    }
    if (!/\.(md|ts|service|sh|yaml|yml|json|mjs)$/.test(p) || st.size > 1_000_000) return;
    readFileSync(p, "utf8").split("\n").forEach((text, i) => {
      if (/--max-(old|semi)-space-size=\d/.test(text)) out.push({ file: relative(root, p), line: i + 1, text });
    });
  };
  for (const top of ["README.md", "docs", "image", "bench", "devkit", "bin", "firmware", "scripts", "package.json"]) walk(join(root, top));
  return out;
}

void test("the gateway's heap flags are stated once (GATEWAY_NODE_FLAGS): the image's unit, README and docs say exactly those", () => {
  const flags = new Map(GATEWAY_NODE_FLAGS.map((f) => [f.split("=")[0]!, f]));
  const found = statements();
  for (const s of found) {
    for (const m of s.text.matchAll(/(--max-(?:old|semi)-space-size)=(\d+)/g)) {
      assert.equal(m[0], flags.get(m[1]!), `${s.file}:${s.line} states ${m[0]}, GATEWAY_NODE_FLAGS says ${flags.get(m[1]!)}`);
    }
  }
  const joined = GATEWAY_NODE_FLAGS.join(" ");
  const unit = readFileSync(join(root, "image", "units", "otgw.service"), "utf8");
  assert.match(unit, new RegExp(`^ExecStart=/usr/bin/node ${joined} /opt/otgw/dist/bin/otgw\\.js `, "m"), "the service unit starts node with GATEWAY_NODE_FLAGS");
  assert.ok(readFileSync(join(root, "README.md"), "utf8").includes(`node ${joined} dist/bin/otgw.js run`), "the README's run line uses GATEWAY_NODE_FLAGS");
  assert.ok(found.some((s) => s.file === join("docs", "queue.md")), "docs/queue.md states the flags");
});

void test("a gateway with an OPC UA source runs under GATEWAY_NODE_FLAGS: still alive and publishing after 300 verified OPC UA readings", async () => {
  const stack = await newStack();
  const plant = await startFieldPlant(join(stack.dir, "plant"));
  const { service, store } = stack.receiver(silentLogger());
  let ua = 0;
  let total = 0;
  service.on("verified", (ev: { stream: string; plaintext: Buffer }) => {
    if (ev.stream === "audit") return;
    total++;
    const r = JSON.parse(ev.plaintext.toString("utf8")) as { point: string };
    if (r.point.startsWith("press1.")) ua++;
  });
  await service.start();
  const gw = await stack.addGateway("gw-heap", SIM_EXAMPLE(), (cfg) => {
    for (const k of ["sources", "streams", "transforms", "points"] as const) (cfg[k] as unknown[]).push(...plant.config[k]);
    // The press's variables sampled fast, so the readings pile up quickly (the heap grows with node-opcua's traffic).
    for (const s of cfg.sources as Array<Record<string, unknown>>) {
      if (s.kind !== "opcua") continue;
      s.publishingIntervalMs = 100;
      for (const it of s.items as Array<Record<string, unknown>>) it.samplingIntervalMs = 50;
    }
  });
  new TrustStore(join(gw.config.gateway.stateDir, "pki", "opcua")).trust({ file: plant.opcuaServerCert });
  // `otgw run` as deployed: its own process, started with exactly the flags the image uses.
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, join(root, "dist", "bin", "otgw.js"), "run", "-c", gw.file], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => { stderr = (stderr + d.toString()).slice(-3000); });
  let exit: string | null = null;
  child.once("exit", (code, signal) => { exit = `code ${code} signal ${signal}`; });
  const dead = (): string => `the gateway died (${exit}) after ${ua} OPC UA readings, ${total} in all: ${stderr.slice(-1500)}`;
  try {
    await waitFor(() => exit !== null || ua >= 300, "300 verified OPC UA readings", 300_000);
    assert.equal(exit, null, dead());
    const uaMark = ua;
    const totalMark = total;
    await waitFor(() => exit !== null || (ua >= uaMark + 50 && total >= totalMark + 500), "50 more OPC UA readings and 500 more in all", 300_000);
    assert.equal(exit, null, dead());
    assert.ok(ua > uaMark && total > totalMark, "still publishing");
    assert.equal(store.counts().quarantined, 0, "nothing refused by the receiver");
  } finally {
    if (exit === null) {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    }
    await service.stop();
    store.close();
    await plant.stop();
    await stack.stop();
  }
});
