import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, readSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { parse as parseYaml } from "yaml";
import { createLogger } from "../../../kernel/log.js";
import { ConfigError } from "../../../kernel/errors.js";
import { checkConfigFile } from "../../../firmware/config/load.js";
import { GATEWAY_NODE_FLAGS } from "../../../firmware/runtime/gateway.js";
import { TrustStore } from "../../../hal/opcua/trust-store.js";
import { createDevStack, RECEIVER_NAME } from "../../../devkit/dev-stack.js";
import type { VerifiedEvent } from "../../../ingest/service.js";
import { stdio, type Io } from "../../output.js";

export interface DevUpOptions {
  /** The integrator's gateway config. */
  config: string;
  /** Stop after this many records (the gateway's `--max-records`); default: until SIGINT/SIGTERM. */
  messages?: number;
  out: string;
  /** OPC UA server certificates to trust in the throwaway state's trust store. */
  trustOpcua?: string[];
  quiet?: boolean;
  /** Stops the run like Ctrl-C does (for callers in-process, such as tests). */
  signal?: AbortSignal;
}

/** The last stdout line of `otgw dev up` (docs/dev-up.md). */
export interface DevUpSummary {
  gatewayId: string;
  /** Frames the receiver verified (readings and the audit stream). */
  verified: number;
  /** Frames the receiver refused (quarantined), by reason in `byReason`. */
  rejected: number;
  byReason: Record<string, number>;
  /** Data frames the gateway had acknowledged by the broker when it exited (null if it did not say). */
  published: number | null;
  /** Readings the gateway's own validation quarantined (out of the stream's schema), null if unknown. */
  quarantinedAtGateway: number | null;
  /** Verified readings per configured point. */
  points: Record<string, number>;
  /** Configured points of which no reading was verified: the first place to look in a register map. */
  missing: string[];
  /** Points whose readings (if any) were all of bad or uncertain quality: e.g. a source that cannot be reached reports its points bad. */
  noGoodReading: string[];
  /** How the gateway process ended, e.g. "code 0". */
  gatewayExit: string;
  seconds: number;
}

/** Sections of the user's config that the throwaway stack replaces. */
const REPLACED = ["identity", "receiver", "uplink"] as const;
/** A point is printed when first verified, then at most this often, so the terminal stays readable. */
const PRINT_EVERY_MS = 1000;

/**
 * `otgw dev up -c FILE`: the user's config, its sources as given, end to end on this machine. A
 * throwaway CA, a locked-down mosquitto with the rendered ACL, the receiver and a software identity
 * replace the config's identity, receiver and uplink sections; the gateway runs as deployed (`otgw run`
 * in its own process under GATEWAY_NODE_FLAGS); every verified reading is printed as the receiver
 * verifies it, and a JSON summary is the last stdout line. Exit 0 when the gateway ended cleanly, every
 * published frame was verified, none was refused and at least one reading arrived.
 */
export async function devUpCommand(o: DevUpOptions, io: Io = stdio): Promise<number> {
  const t0 = Date.now();
  const userFile = resolve(o.config);
  refuseOwnProblems(userFile);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const receiverLog = join(out, "receiver.log");
  const gatewayLog = join(out, "gateway.log");
  const logger = createLogger({ destination: pino.destination({ dest: receiverLog, mkdir: true, sync: true }) });
  const stack = await createDevStack(join(out, "stack"));
  try {
    const { service, store } = stack.receiver(logger);
    const userId = readGatewayId(userFile);
    const gw = await stack.addGateway(userId === RECEIVER_NAME ? `${userId}-gw` : userId, userFile);
    const id = gw.config.gateway.id;
    for (const pem of o.trustOpcua ?? []) new TrustStore(join(gw.config.gateway.stateDir, "pki", "opcua")).trust({ file: resolve(pem) });
    io.out(`otgw dev up: running ${userFile} as gateway ${id}, its sources as given`);
    io.out(`otgw dev up: its ${REPLACED.join(", ")} sections are replaced by a throwaway stack under ${out}/: a fresh CA, mosquitto at ${stack.broker.url} (mTLS, per-gateway ACL), a receiver with a fresh HPKE key, and a software identity (mode development, state in ${gw.config.gateway.stateDir})`);

    const points: Record<string, number> = Object.fromEntries(gw.config.points.map((p) => [p.name, 0]));
    const good: Record<string, number> = Object.fromEntries(gw.config.points.map((p) => [p.name, 0]));
    const lastPrinted = new Map<string, number>();
    service.on("verified", (ev: VerifiedEvent) => {
      if (ev.stream === "audit") return;
      const r = readingOf(ev);
      if (!r) return;
      points[r.point] = (points[r.point] ?? 0) + 1;
      if (r.quality === "good") good[r.point] = (good[r.point] ?? 0) + 1;
      if (o.quiet) return;
      const now = Date.now();
      if (now - (lastPrinted.get(r.point) ?? -Infinity) < PRINT_EVERY_MS) return;
      lastPrinted.set(r.point, now);
      io.out(`✔ ${ev.stream} ${r.point} = ${formatValue(r.value)} ${r.unit} [${r.quality}${r.qualityDetail !== null ? ` ${r.qualityDetail}` : ""}]`);
    });
    service.on("quarantined", (r: { reason: string; detail: string }) => io.err(`✗ the receiver refused a frame: ${r.reason} (${r.detail})`));
    await service.start();

    // The gateway as deployed: `otgw run` in its own process with the image's heap flags.
    const otgw = fileURLToPath(new URL("../../otgw.js", import.meta.url));
    const args = [...GATEWAY_NODE_FLAGS, otgw, "run", "-c", gw.file, ...(o.messages !== undefined ? ["--max-records", String(o.messages)] : [])];
    const logFd = openSync(gatewayLog, "a");
    // The gateway logs (pino) to stderr: both streams go to its log file.
    const child = spawn(process.execPath, args, { stdio: ["ignore", logFd, logFd] });
    closeSync(logFd);
    const exited = new Promise<string>((res) => child.once("exit", (code, signal) => res(signal ? `signal ${signal}` : `code ${code}`)));
    const stop = (): void => void child.kill("SIGTERM");
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // If this process ends without stopping the gateway (an exception), the gateway must not outlive it.
    process.once("exit", stop);
    o.signal?.addEventListener("abort", stop, { once: true });
    // The gateway's warnings and errors (an untrusted OPC UA server, a refused connection) on stderr, each once.
    const follower = followProblems(gatewayLog, io);
    io.out(`otgw dev up: gateway started (node ${GATEWAY_NODE_FLAGS.join(" ")}); logs in ${gatewayLog} and ${receiverLog}; ${o.messages !== undefined ? `stops after ${o.messages} records` : "Ctrl-C to stop"}`);
    const gatewayExit = await exited;
    process.removeListener("SIGINT", stop);
    process.removeListener("SIGTERM", stop);
    process.removeListener("exit", stop);
    follower.stop();
    if (gatewayExit !== "code 0") io.err(`otgw dev up: the gateway exited (${gatewayExit}); the end of its log (${gatewayLog}):\n${tail(gatewayLog)}`);

    const stats = exitStats(gatewayLog);
    await caughtUp(() => store.counts().verified, stats?.publishedData ?? null);
    await service.stop();
    const c = store.counts();
    store.close();
    const summary: DevUpSummary = {
      gatewayId: id, verified: c.verified, rejected: c.quarantined, byReason: c.byReason, published: stats?.publishedData ?? null,
      quarantinedAtGateway: stats?.quarantined ?? null, points, missing: Object.entries(points).filter(([, n]) => n === 0).map(([p]) => p),
      noGoodReading: Object.entries(good).filter(([, n]) => n === 0).map(([p]) => p),
      gatewayExit, seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
    io.out(JSON.stringify(summary));
    const delivered = summary.published === null || summary.verified >= summary.published;
    return gatewayExit === "code 0" && delivered && summary.rejected === 0 && Object.values(good).some((n) => n > 0) ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

/**
 * The user's file checked as written, except for the sections dev up replaces: a mistake in a source
 * or point is reported against the user's own file and lines, not the derived copy.
 */
function refuseOwnProblems(file: string): void {
  const check = checkConfigFile(file);
  const replaced = (p: string): boolean =>
    REPLACED.some((s) => p.startsWith(`/${s}/`) || p.startsWith(`/${s}:`) || (p.startsWith("/:") && p.includes(`'${s}'`)));
  const own = check.problems.filter((p) => !replaced(p));
  if (own.length > 0) throw new ConfigError(file, own);
}

/** The config's own gateway id (kept: the broker's ACL is per certificate CN, so any id works). */
function readGatewayId(file: string): string {
  const cfg = parseYaml(readFileSync(file, "utf8")) as { gateway?: { id?: unknown } } | null;
  return typeof cfg?.gateway?.id === "string" ? cfg.gateway.id : "gw-dev";
}

interface Reading { point: string; value: unknown; unit: string; quality: string; qualityDetail: string | null }

function readingOf(ev: VerifiedEvent): Reading | null {
  try {
    const r = JSON.parse(ev.plaintext.toString("utf8")) as Partial<Reading>;
    return typeof r.point === "string"
      ? { point: r.point, value: r.value, unit: String(r.unit ?? ""), quality: String(r.quality ?? ""), qualityDetail: typeof r.qualityDetail === "string" ? r.qualityDetail : null }
      : null;
  } catch {
    return null;
  }
}

function formatValue(v: unknown): string {
  return typeof v === "number" ? String(Math.round(v * 1e6) / 1e6) : JSON.stringify(v);
}

/** The gateway's counters from its last "gateway exited" log line, if it wrote one. */
function exitStats(logFile: string): { publishedData: number; quarantined: number } | null {
  let text = "";
  try {
    text = readFileSync(logFile, "utf8");
  } catch {
    return null;
  }
  for (const line of text.trimEnd().split("\n").reverse()) {
    try {
      const j = JSON.parse(line) as { msg?: string; publishedData?: number; quarantined?: number };
      if (j.msg === "gateway exited" && typeof j.publishedData === "number") return { publishedData: j.publishedData, quarantined: j.quarantined ?? 0 };
    } catch {
      // not a log line (node's own output)
    }
  }
  return null;
}

/**
 * Follows the gateway's log file and prints each distinct warning or error once (`! gateway <module>:
 * <message>`), with how often it recurred when it stops. pino lines carry no payload values.
 */
function followProblems(file: string, io: Io): { stop(): void } {
  let offset = 0;
  let partial = "";
  const seen = new Map<string, number>();
  const read = (): void => {
    let fd: number;
    try {
      fd = openSync(file, "r");
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        partial += buf.subarray(0, n).toString("utf8");
      }
    } finally {
      closeSync(fd);
    }
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      let j: { level?: number; module?: string; source?: string; msg?: string; err?: unknown };
      try {
        j = JSON.parse(line) as typeof j;
      } catch {
        continue;
      }
      if ((j.level ?? 0) < 40) continue;
      const text = `${j.module ?? "gateway"}${j.source ? ` ${j.source}` : ""}: ${j.msg ?? ""}${j.err !== undefined ? ` (${typeof j.err === "string" ? j.err : JSON.stringify(j.err)})` : ""}`;
      const n = seen.get(text) ?? 0;
      seen.set(text, n + 1);
      if (n === 0) io.err(`! gateway ${j.level! >= 50 ? "error" : "warning"}, ${text}`);
    }
  };
  const timer = setInterval(read, 500);
  return {
    stop: () => {
      clearInterval(timer);
      read();
      for (const [text, n] of seen) if (n > 1) io.err(`! gateway: "${text.slice(0, 80)}…" recurred ${n} times in all`);
    },
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").slice(-2000);
  } catch {
    return "";
  }
}

/**
 * Every acknowledged frame is at the broker: waits until the receiver has verified `want` of them, or
 * (when the gateway did not say how many) until the count has stood still for a while.
 */
async function caughtUp(verified: () => number, want: number | null): Promise<void> {
  let seen = -1;
  let since = Date.now();
  const quietMs = want === null ? 3000 : 15_000;
  for (;;) {
    const n = verified();
    if (want !== null && n >= want) return;
    if (n !== seen) {
      seen = n;
      since = Date.now();
    } else if (Date.now() - since > quietMs) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
