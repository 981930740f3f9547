import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../../kernel/log.js";
import type { NormalizedRecord } from "../../kernel/record.js";
import { newStack, simGateway, waitFor } from "./harness.js";

/** Every base64 line of every PEM private key under `dir`: none may appear in a log line. */
function keyLines(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(key|pem)$/.test(e.name)) {
        const text = readFileSync(p, "utf8");
        if (!text.includes("PRIVATE KEY")) continue;
        for (const line of text.split("\n")) if (/^[A-Za-z0-9+/=]{24,}$/.test(line)) out.push(line.slice(0, 24));
      }
    }
  };
  walk(dir);
  return out;
}

void test("whole pipeline at debug level: no payload value and no key material in any log line", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (s: string) => void lines.push(s) } });
  const stack = await newStack();
  const { service, store } = stack.receiver(logger);
  await service.start();
  const { gateway, limit } = await simGateway(stack, "gw-logs", 1500, logger);
  try {
    await gateway.start();
    await limit;
    await gateway.stop(60_000);
    await waitFor(() => store.counts().verified >= gateway.stats.publishedData, "receiver to verify everything");
  } finally {
    await service.stop();
    await stack.stop();
  }
  assert.ok(lines.length > 5, `the pipeline logged something at debug level (${lines.length} lines)`);
  assert.ok(lines.some((l) => l.includes('"level":20')), "debug lines were emitted");
  const log = lines.join("");

  const values = new Set<string>();
  for (const row of store.verifiedRecords()) {
    if (row.stream === "audit") continue;
    const r = JSON.parse(row.record) as NormalizedRecord;
    if (typeof r.value === "number") {
      const s = JSON.stringify(r.value);
      if (s.length >= 6) values.add(s); // short values like "0" would match unrelated numbers
    }
  }
  store.close();
  assert.ok(values.size > 100, `enough distinct payload values to search for (${values.size})`);
  for (const v of values) assert.ok(!log.includes(v), `payload value ${v} appeared in the logs`);

  const keys = keyLines(stack.dir);
  assert.ok(keys.length >= 3, "found the private keys to search for");
  for (const k of keys) assert.ok(!log.includes(k), "private key material appeared in the logs");
  assert.ok(!log.includes("PRIVATE KEY"), "a PEM private key appeared in the logs");
});
