import { Ajv } from "ajv";
import { errorText } from "../core/errors.js";
import { SIM_SIGNALS } from "./schema.js";

/** Stream ids the gateway uses itself; a configured stream may not take them. */
export const RESERVED_STREAMS = ["audit"] as const;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const names = (xs: Iterable<string>): string => [...xs].join(", ") || "(none)";

/**
 * Checks that a JSON Schema cannot express: references between sections, uniqueness, and the
 * production-mode policy. Runs on data that may have failed the schema, so it reads defensively and
 * only reports what it can see.
 */
export function crossFieldProblems(data: unknown): string[] {
  const c = obj(data);
  const problems: string[] = [];
  const streams = unique(list(c.streams), "id", "/streams", "stream", problems);
  const transforms = unique(list(c.transforms), "id", "/transforms", "transform", problems);
  const sources = unique(list(c.sources), "id", "/sources", "source", problems);
  unique(list(c.points), "name", "/points", "point", problems);

  list(c.streams).forEach((s, i) => {
    const id = str(s.id);
    if (id !== undefined && (RESERVED_STREAMS as readonly string[]).includes(id)) {
      problems.push(`/streams/${i}/id: "${id}" is reserved for the gateway's own audit stream; pick another id`);
    }
    if (s.valueSchema !== undefined) {
      try {
        new Ajv({ allErrors: true, strict: true }).compile(obj(s.valueSchema));
      } catch (err) {
        problems.push(`/streams/${i}/valueSchema: not a valid JSON Schema: ${errorText(err)}`);
      }
    }
  });

  checkSources(list(c.sources), problems);
  checkPoints(list(c.points), { streams, transforms, sources }, problems);
  checkPolicy(c, problems);
  return problems;
}

function unique(items: Obj[], key: string, base: string, what: string, problems: string[]): Map<string, Obj> {
  const seen = new Map<string, Obj>();
  const at = new Map<string, number>();
  items.forEach((item, i) => {
    const id = str(item[key]);
    if (id === undefined) return;
    const first = at.get(id);
    if (first !== undefined) problems.push(`${base}/${i}/${key}: duplicate ${what} ${key} "${id}" (first at ${base}/${first})`);
    else {
      seen.set(id, item);
      at.set(id, i);
    }
  });
  return seen;
}

function checkSources(sources: Obj[], problems: string[]): void {
  sources.forEach((s, i) => {
    if (s.kind !== "sim") return;
    const assets = unique(list(s.assets), "id", `/sources/${i}/assets`, "asset", problems);
    list(s.faults).forEach((f, j) => {
      const asset = str(f.asset);
      if (asset !== undefined && !assets.has(asset)) {
        problems.push(`/sources/${i}/faults/${j}/asset: unknown asset "${asset}"; assets of this source are: ${names(assets.keys())}`);
      }
      if ((f.kind === "drift" || f.kind === "spike") && (num(f.magnitude) ?? 0) === 0) {
        problems.push(`/sources/${i}/faults/${j}/magnitude: a ${String(f.kind)} fault needs a non-zero magnitude (${f.kind === "drift" ? "units per second" : "units added"})`);
      }
    });
  });
}

interface Known {
  streams: Map<string, Obj>;
  transforms: Map<string, Obj>;
  sources: Map<string, Obj>;
}

function checkPoints(points: Obj[], known: Known, problems: string[]): void {
  const addresses = new Map<string, number>();
  points.forEach((p, i) => {
    const ref = (field: "stream" | "transform" | "source", map: Map<string, Obj>): void => {
      const v = str(p[field]);
      if (v !== undefined && !map.has(v)) problems.push(`/points/${i}/${field}: unknown ${field} "${v}"; ${field}s are: ${names(map.keys())}`);
    };
    ref("source", known.sources);
    ref("stream", known.streams);
    ref("transform", known.transforms);
    const srcId = str(p.source);
    const address = str(p.address);
    if (srcId === undefined || address === undefined) return;
    const key = `${srcId}\u0000${address}`;
    const first = addresses.get(key);
    if (first !== undefined) problems.push(`/points/${i}/address: source "${srcId}" address "${address}" is already mapped by /points/${first}`);
    else addresses.set(key, i);
    const src = known.sources.get(srcId);
    if (src?.kind === "sim") checkSimAddress(address, src, `/points/${i}/address`, problems);
  });
}

function checkSimAddress(address: string, src: Obj, path: string, problems: string[]): void {
  const [asset, signal, ...rest] = address.split("/");
  const assets = list(src.assets).map((a) => str(a.id)).filter((a): a is string => a !== undefined);
  if (asset === undefined || signal === undefined || rest.length > 0) {
    problems.push(`${path}: simulator addresses are "<asset>/<signal>", e.g. "${assets[0] ?? "pump1"}/vibration_rms"`);
    return;
  }
  if (!assets.includes(asset)) problems.push(`${path}: unknown asset "${asset}"; assets are: ${names(assets)}`);
  if (!(SIM_SIGNALS as readonly string[]).includes(signal)) problems.push(`${path}: unknown signal "${signal}"; signals are: ${names(SIM_SIGNALS)}`);
}

function checkPolicy(c: Obj, problems: string[]): void {
  const gateway = obj(c.gateway);
  const identity = obj(c.identity);
  const uplink = obj(c.uplink);
  const overrides = obj(c.overrides);
  const envelope = obj(c.envelope);
  const production = gateway.mode === "production";
  if (production && identity.keystore === "software" && str(obj(overrides.allowSoftwareKeys).reason) === undefined) {
    problems.push(
      "/identity/keystore: production mode refuses software keys (anyone who can read the key file can clone this gateway); " +
        'use keystore: tpm, or, to accept the risk, add overrides: { allowSoftwareKeys: { reason: "<why>" } } (it is audited)',
    );
  }
  const url = str(uplink.url);
  if (production && url !== undefined && url.startsWith("mqtt://")) {
    problems.push("/uplink/url: production mode requires TLS: use mqtts://host:8883");
  }
  const min = num(uplink.reconnectMinMs);
  const max = num(uplink.reconnectMaxMs);
  if (min !== undefined && max !== undefined && min > max) {
    problems.push(`/uplink/reconnectMinMs: must not exceed reconnectMaxMs (${max})`);
  }
  const every = num(envelope.checkpointEveryMessages);
  const session = num(envelope.sessionMaxMessages);
  if (every !== undefined && session !== undefined && every > session) {
    problems.push(`/envelope/checkpointEveryMessages: must not exceed sessionMaxMessages (${session})`);
  }
  if (typeof gateway.stateDir === "string" && gateway.stateDir.trim() === "") {
    problems.push("/gateway/stateDir: must name a directory (queue, quarantine and audit log live there)");
  }
}
