import { format } from "node:util";
import { child, createLogger, type Logger } from "../../kernel/log.js";

/**
 * node-opcua prints its own warnings, errors and multi-line dumps with console.log (stdout, which must
 * stay machine-readable), ~30 unstructured lines per start. Its hooks (node-opcua-debug's
 * set{Warning,Error,Debug}Logger) are process-wide, so they are set once, as soon as node-opcua is
 * loaded, and send every message to the structured log (module `node-opcua`): one record per message,
 * its first line only (the rest are dumps: certificates, stacks, request bodies, which may hold values),
 * with node-opcua's code (`NODE-OPCUA-W06`) and caller. Levels: errors → error; coded warnings → warn;
 * uncoded warnings (continuation lines of a dump, chatter such as "Cannot find suitable endpoints" from
 * our discovery probe) → debug; a few coded ones that need no action here → info (LEVEL_OF). A coded
 * message node-opcua repeats (W06 comes once per client, so twice per connection attempt) is logged at
 * its level the first time in the process and at debug after that.
 */
type Hooks = Pick<typeof import("node-opcua"), "setWarningLogger" | "setErrorLogger" | "setDebugLogger">;
type Level = "error" | "warn" | "info" | "debug";

/** Coded messages whose level is not node-opcua's. */
const LEVEL_OF: Record<string, Level> = {
  // Node 20's RSA PKCS#1 v1.5 check, printed at load: only Basic128Rsa15 (which we never offer) needs it.
  "NODE-OPCUA-W27": "info",
};

/** Longest message kept: node-opcua's first lines are short; anything longer is a dump. */
const MAX_MESSAGE = 200;

let target: Logger | null = null;
const seen = new Set<string>();
let routed = false;

/**
 * Sends node-opcua's messages to `logger` (the latest one given wins: the gateway's, once it has
 * started a source); until one is given, to a default structured logger on stderr.
 */
export function routeNodeOpcuaLogs(ua: Hooks, logger?: Logger): void {
  if (logger) target = child(logger, "node-opcua");
  if (routed) return;
  routed = true;
  ua.setErrorLogger((ctx: unknown, ...args: unknown[]) => emit("error", ctx, args));
  ua.setWarningLogger((ctx: unknown, ...args: unknown[]) => emit("warn", ctx, args));
  ua.setDebugLogger((ctx: unknown, ...args: unknown[]) => emit("debug", ctx, args));
}

/** One node-opcua message as a log record: level, code, caller, first line. Exported for the tests. */
export function recordOf(hook: "error" | "warn" | "debug", ctx: unknown, args: unknown[]): { level: Level; fields: Record<string, string | number>; msg: string } {
  // chalk colours (ESC [ … m) are stripped; format() joins the arguments the way node-opcua's own dump does.
  // eslint-disable-next-line no-control-regex
  const text = format(...args).replace(/\u001b\[[0-9;]*m/g, "");
  const first = text.split("\n").map((l) => l.trim()).find((l) => l.length > 0) ?? "";
  const code = /\bNODE-OPCUA-[WE]\d+\b/.exec(first)?.[0];
  const msg = first.replace(/^\[NODE-OPCUA-[WE]\d+\]\s*/, "").slice(0, MAX_MESSAGE);
  const level: Level = hook === "error" ? "error" : hook === "debug" ? "debug" : code ? (LEVEL_OF[code] ?? "warn") : "debug";
  const c = (ctx ?? {}) as { filename?: unknown; callerline?: unknown };
  const fields: Record<string, string | number> = {};
  if (code) fields.code = code;
  if (typeof c.filename === "string") fields.file = c.filename;
  if (typeof c.callerline === "number" && Number.isFinite(c.callerline)) fields.line = c.callerline;
  return { level, fields, msg };
}

function emit(hook: "error" | "warn" | "debug", ctx: unknown, args: unknown[]): void {
  const r = recordOf(hook, ctx, args);
  if (r.msg === "") return;
  if (r.fields.code !== undefined && r.level !== "debug") {
    const key = `${r.fields.code}|${r.msg}`;
    if (seen.has(key)) r.level = "debug";
    else seen.add(key);
  }
  target ??= child(createLogger(), "node-opcua");
  target[r.level](r.fields, r.msg);
}
