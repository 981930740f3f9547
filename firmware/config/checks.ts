import { Ajv } from "ajv";
import { errorText } from "../../kernel/errors.js";
import { SIM_SIGNALS } from "./schema.js";
import { networkProblems } from "../egress/endpoints.js";
import { REGISTER_TYPES, TABLES } from "../../hal/modbus/decode.js";
import { registerMapProblems, type RegisterSpec } from "../../hal/modbus/plan.js";

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
  problems.push(...networkProblems(c));

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
    if (s.kind === "modbus-tcp" || s.kind === "modbus-rtu") return checkModbusSource(s, i, problems);
    if (s.kind === "opcua") return checkOpcuaSource(s, i, problems);
    if (s.kind === "gpio") return checkGpioSource(s, i, problems);
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
    if (src) checkFieldAddress(address, src, `/points/${i}/address`, problems);
  });
}

const BIT_TABLES = ["co", "di"];

function checkModbusSource(s: Obj, i: number, problems: string[]): void {
  const devices = list(s.devices);
  const units = new Map<number, number>();
  devices.forEach((d, j) => {
    const unit = num(d.unitId);
    if (unit === undefined) return;
    const first = units.get(unit);
    if (first !== undefined) problems.push(`/sources/${i}/devices/${j}/unitId: unit ${unit} is already configured at /sources/${i}/devices/${first}; merge their registers`);
    else units.set(unit, j);
    if (s.kind === "modbus-rtu" && (unit < 1 || unit > 247)) {
      problems.push(`/sources/${i}/devices/${j}/unitId: RTU slave addresses are 1–247 (0 is broadcast and never answers)`);
    }
    const regs = new Map<string, number>();
    list(d.registers).forEach((r, k) => {
      const at = `/sources/${i}/devices/${j}/registers/${k}`;
      const key = `${String(r.table)}/${String(r.register)}`;
      const firstReg = regs.get(key);
      if (firstReg !== undefined) problems.push(`${at}/register: ${key} is already mapped at registers/${firstReg}`);
      else regs.set(key, k);
      if (BIT_TABLES.includes(String(r.table)) && (r.type !== undefined || r.byteOrder !== undefined || r.wordOrder !== undefined)) {
        problems.push(`${at}/type: coils and discrete inputs are single bits (booleans); type, byteOrder and wordOrder apply to hr/ir only`);
      }
    });
    // Overlaps and values running past the last address: only entries the schema accepts can be measured.
    const specs = list(d.registers).flatMap((r, k) => (isSpec(r) ? [{ k, spec: r }] : []));
    for (const p of registerMapProblems(specs.map((x) => x.spec))) {
      const k = specs[p.index]?.k ?? p.index;
      problems.push(`/sources/${i}/devices/${j}/registers/${k}/register: ${p.message}`);
    }
  });
}

function isSpec(r: Obj): r is Obj & RegisterSpec {
  const n = num(r.register);
  return (TABLES as readonly unknown[]).includes(r.table) && n !== undefined && Number.isInteger(n) && n >= 0 &&
    (r.type === undefined || (REGISTER_TYPES as readonly unknown[]).includes(r.type));
}

function checkOpcuaSource(s: Obj, i: number, problems: string[]): void {
  const mode = str(s.securityMode) ?? "SignAndEncrypt";
  const policy = str(s.securityPolicy) ?? "Basic256Sha256";
  if ((mode === "None") !== (policy === "None")) {
    problems.push(`/sources/${i}/securityPolicy: securityMode ${mode} needs ${mode === "None" ? "securityPolicy None" : "a securityPolicy other than None (Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss)"}`);
  }
  const user = obj(s.user);
  if (mode === "None" && user.type === "username") {
    problems.push(`/sources/${i}/user: a username and password must not travel over an unsecured channel; use securityMode SignAndEncrypt`);
  }
  unique(list(s.items), "nodeId", `/sources/${i}/items`, "item", problems);
}

function checkGpioSource(s: Obj, i: number, problems: string[]): void {
  const seen = new Map<number, number>();
  list(s.lines).forEach((l, j) => {
    const line = num(l.line);
    if (line === undefined) return;
    const first = seen.get(line);
    if (first !== undefined) problems.push(`/sources/${i}/lines/${j}/line: line ${line} is already configured at /sources/${i}/lines/${first}`);
    else seen.set(line, j);
  });
}

/** The point address must name something the source is configured to deliver. */
function checkFieldAddress(address: string, src: Obj, path: string, problems: string[]): void {
  if (src.kind === "modbus-tcp" || src.kind === "modbus-rtu") {
    const known = list(src.devices).flatMap((d) => list(d.registers).map((r) => `unit/${String(d.unitId)}/${String(r.table)}/${String(r.register)}`));
    if (!known.includes(address)) {
      problems.push(`${path}: "${address}" is not in the register map of source "${String(src.id)}"; Modbus addresses are "unit/<id>/<co|di|hr|ir>/<register>", e.g. "${known[0] ?? "unit/1/hr/0"}"`);
    }
  } else if (src.kind === "opcua") {
    const known = list(src.items).map((it) => str(it.nodeId));
    if (!known.includes(address)) problems.push(`${path}: "${address}" is not one of the items (nodeId) of source "${String(src.id)}": ${names(known.filter((k): k is string => k !== undefined))}`);
  } else if (src.kind === "gpio") {
    const known = list(src.lines).map((l) => String(l.line));
    if (!known.includes(address)) problems.push(`${path}: GPIO addresses are the line number; source "${String(src.id)}" has lines: ${names(known)}`);
  }
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
  if (production) checkFieldPolicy(list(c.sources), overrides, problems);
  if (typeof gateway.stateDir === "string" && gateway.stateDir.trim() === "") {
    problems.push("/gateway/stateDir: must name a directory (queue, quarantine and audit log live there)");
  }
}

/** Production refuses OPC UA without security or with trust-all (unless overridden with a reason) and fake GPIO. */
function checkFieldPolicy(sources: Obj[], overrides: Obj, problems: string[]): void {
  const allowNone = str(obj(overrides.allowSecurityNone).reason) !== undefined;
  const allowTrustAll = str(obj(overrides.allowTrustAll).reason) !== undefined;
  sources.forEach((s, i) => {
    if (s.kind === "opcua") {
      if ((s.securityMode === "None" || s.securityPolicy === "None") && !allowNone) {
        problems.push(
          `/sources/${i}/securityMode: production mode refuses OPC UA security mode None (readings could be forged or read on the network); ` +
            'use SignAndEncrypt, or, to accept the risk, add overrides: { allowSecurityNone: { reason: "<why>" } } (it is audited)',
        );
      }
      if (s.trustAll === true && !allowTrustAll) {
        problems.push(
          `/sources/${i}/trustAll: production mode refuses trusting every OPC UA server certificate; trust the server with ` +
            '`otgw trust opcua trust <thumbprint> --config FILE`, or add overrides: { allowTrustAll: { reason: "<why>" } } (it is audited)',
        );
      }
    }
    if (s.kind === "gpio" && s.backend === "fake") {
      problems.push(`/sources/${i}/backend: production mode refuses the fake GPIO backend (its inputs are not wired to anything); use backend: chardev`);
    }
  });
}
