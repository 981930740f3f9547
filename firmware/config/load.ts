import { createHash } from "node:crypto";
import { dirname, extname, isAbsolute, join, resolve } from "node:path";
import { Ajv } from "ajv";
import { LineCounter, parseDocument, isNode, type Document } from "yaml";
import { ConfigError, InputFileError, errorText } from "../../kernel/errors.js";
import { INPUT_LIMITS, readCappedFile } from "../../kernel/input-file.js";
import { crossFieldProblems } from "./checks.js";
import { formatAjvErrors } from "./problems.js";
import { ConfigSchema, type GatewayConfig, type OpcuaSourceConfig, type OverrideName } from "./schema.js";
import { resolveModelPaths } from "../models/config.js";

/** A loaded, validated config and the SHA-256 (hex) of the file's bytes, for the audit log. */
export interface LoadedConfig {
  config: GatewayConfig;
  digest: string;
}

/** Result of checking a file without throwing: every problem, as `path: message`. */
export interface ConfigCheck {
  ok: boolean;
  problems: string[];
  /** SHA-256 of the file bytes, when the file could be read. */
  digest: string | null;
}

// One compiled validator per process: compiling is the slow part and the schema never changes.
// useDefaults fills optional fields before `required` runs; verbose gives formatAjvErrors the schemas.
const ajv = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, strict: true, verbose: true });
const validateSchema = ajv.compile<GatewayConfig>(ConfigSchema);

/**
 * Reads, validates and resolves a gateway config (YAML for .yaml/.yml, JSON for .json). Relative paths
 * are resolved against the file's directory. Throws ConfigError listing every problem at once.
 */
export function loadConfig(file: string): LoadedConfig {
  const bytes = readConfigBytes(file);
  const digest = createHash("sha256").update(bytes).digest("hex");
  const { data, doc, problems: parseProblems } = parse(file, bytes.toString("utf8"));
  if (parseProblems.length > 0) throw new ConfigError(file, parseProblems);

  const problems: string[] = [];
  if (!validateSchema(data)) problems.push(...formatAjvErrors(validateSchema.errors ?? []));
  // Cross-field checks run even when the schema failed, so one run reports every mistake; they read
  // the data defensively for that reason.
  problems.push(...crossFieldProblems(data));
  if (problems.length > 0) throw new ConfigError(file, doc ? problems.map((p) => withLine(p, doc.doc, doc.lines)) : problems);

  const config = resolvePaths(data as GatewayConfig, dirname(resolve(file)));
  return { config, digest };
}

/**
 * The config file's bytes; refused before reading when over INPUT_LIMITS.config, because parsing a
 * multi-megabyte YAML file exhausts the gateway's heap (docs/config.md "Size limits").
 */
export function readConfigBytes(file: string): Buffer {
  try {
    return readCappedFile(file, { maxBytes: INPUT_LIMITS.config, what: "the config" });
  } catch (err) {
    if (err instanceof InputFileError) {
      // The ConfigError names the file already: the problem line keeps only what follows "<file>: ".
      const text = errorText(err);
      throw new ConfigError(file, [`/: ${text.startsWith(`${file}: `) ? text.slice(file.length + 2) : text}`]);
    }
    throw new ConfigError(file, [`/: cannot read the file: ${errorText(err)}`]);
  }
}

/** Like loadConfig, but returns the problems instead of throwing (for `otgw config check`). */
export function checkConfigFile(file: string): ConfigCheck {
  try {
    const { digest } = loadConfig(file);
    return { ok: true, problems: [], digest };
  } catch (err) {
    if (err instanceof ConfigError) {
      let digest: string | null = null;
      try {
        digest = createHash("sha256").update(readConfigBytes(file)).digest("hex");
      } catch {
        // Unreadable or oversized file: the problem list already says so.
      }
      return { ok: false, problems: [...err.problems], digest };
    }
    throw err;
  }
}

/** The production escape hatches this config uses, each with its reason, for the audit log. */
export function activeOverrides(config: GatewayConfig): { name: OverrideName; reason: string }[] {
  const out: { name: OverrideName; reason: string }[] = [];
  for (const name of ["allowSoftwareKeys", "allowTrustAll", "allowSecurityNone"] as const) {
    const o = config.overrides[name];
    if (o) out.push({ name, reason: o.reason });
  }
  return out;
}

interface Positions {
  doc: Document;
  lines: LineCounter;
}

function parse(file: string, text: string): { data: unknown; doc: Positions | null; problems: string[] } {
  const ext = extname(file).toLowerCase();
  if (ext !== ".yaml" && ext !== ".yml" && ext !== ".json") {
    return { data: null, doc: null, problems: [`/: unsupported file extension "${ext}"; use .yaml, .yml or .json`] };
  }
  // JSON is a subset of YAML 1.2, so the YAML parser gives line numbers for both; JSON files are still
  // parsed with JSON.parse so that YAML-only syntax in a .json file is an error.
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (ext === ".json") {
    try {
      return { data: JSON.parse(text) as unknown, doc: { doc, lines }, problems: [] };
    } catch (err) {
      return { data: null, doc: null, problems: [`/: invalid JSON: ${errorText(err)}`] };
    }
  }
  if (doc.errors.length > 0) {
    return {
      data: null,
      doc: null,
      problems: doc.errors.map((e) => `/: invalid YAML at line ${e.linePos?.[0].line ?? "?"}: ${e.message.split(/ at line \d+|\n/)[0] ?? ""}`),
    };
  }
  return { data: doc.toJS() as unknown, doc: { doc, lines }, problems: [] };
}

/** Appends "(line N)" for the deepest node of the problem's path that exists in the file. */
function withLine(problem: string, doc: Document, lines: LineCounter): string {
  const path = problem.slice(0, problem.indexOf(":"));
  const segs = path.split("/").slice(1).filter((s) => s !== "").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  for (let n = segs.length; n >= 1; n--) {
    const node = doc.getIn(segs.slice(0, n).map((s) => (/^\d+$/.test(s) ? Number(s) : s)), true);
    if (isNode(node) && node.range) return `${problem} (line ${lines.linePos(node.range[0]).line})`;
  }
  return problem;
}

/** An OPC UA source's trust store and credential files, like every other path: against the config's directory. */
function resolveOpcuaPaths(s: OpcuaSourceConfig, abs: (p: string) => string): OpcuaSourceConfig {
  const u = s.user;
  const user = u.type === "username" ? { ...u, passwordFile: abs(u.passwordFile) } : u.type === "certificate" ? { ...u, certFile: abs(u.certFile), keyFile: abs(u.keyFile) } : u;
  return { ...s, ...(s.pkiDir !== undefined ? { pkiDir: abs(s.pkiDir) } : {}), user };
}

function resolvePaths(c: GatewayConfig, base: string): GatewayConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const stateDir = abs(c.gateway.stateDir);
  return {
    ...c,
    gateway: { ...c.gateway, stateDir },
    identity: {
      ...c.identity,
      keyDir: c.identity.keyDir !== undefined ? abs(c.identity.keyDir) : join(stateDir, "keys"),
      certFile: abs(c.identity.certFile),
      caFile: abs(c.identity.caFile),
      ...(c.identity.keystore === "tpm" ? { tpm: c.identity.tpm ?? { tcti: "device:/dev/tpmrm0" } } : {}),
    },
    receiver: { publicKeyFile: abs(c.receiver.publicKeyFile) },
    uplink: { ...c.uplink, caFile: abs(c.uplink.caFile) },
    sources: c.sources.map((s) => (s.kind === "opcua" ? resolveOpcuaPaths(s, abs) : s)),
    ...(c.models ? { models: resolveModelPaths(c.models, abs, stateDir) } : {}),
  };
}
