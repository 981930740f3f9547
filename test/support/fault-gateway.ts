/**
 * A gateway as a child process for fault tests that must put it somewhere else than the test (inside
 * a network namespace: `ip netns exec NS node dist/test/support/fault-gateway.js CONFIG ACCEPTED`).
 * It is the same createGateway the CLI uses; unlike `otgw run` it records every data frame its queue
 * accepted (`session:seq` lines appended to ACCEPTED after each commit, ids only) and, on SIGTERM,
 * gives the uplink up to DRAIN_MS (argv[4], default 240 s) to get everything receipted before it
 * prints its final counters. Progress goes to stdout as one JSON object per line, every 500 ms.
 */
import { appendFileSync } from "node:fs";
import { silentLogger } from "../../kernel/log.js";
import { acceptedKey } from "../durability/accounting.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";

const [configFile, acceptedFile, drainArg] = process.argv.slice(2);
if (!configFile || !acceptedFile) {
  process.stderr.write("usage: fault-gateway.js CONFIG ACCEPTED_FILE [DRAIN_MS]\n");
  process.exit(2);
}
const drainMs = Number(drainArg ?? 240_000);

const wired = await createGateway({
  configFile, logger: silentLogger(),
  onCommitted: (frames) => {
    const lines: string[] = [];
    for (const f of frames) {
      const k = acceptedKey(f);
      if (k) lines.push(k);
    }
    if (lines.length > 0) appendFileSync(acceptedFile, `${lines.join("\n")}\n`);
  },
});
const gw = wired.gateway;
const report = (final: boolean): void => {
  process.stdout.write(`${JSON.stringify({ final, stats: gw.stats, counters: gw.uplinkCounters(), backlog: final ? 0 : gw.backlog() })}\n`);
};
await gw.start();
const ticker = setInterval(() => report(false), 500);
await new Promise<void>((resolve) => process.once("SIGTERM", resolve));
clearInterval(ticker);
await wired.stop(drainMs);
report(true);
