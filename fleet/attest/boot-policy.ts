import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AttestError, errorText } from "../../kernel/errors.js";

/**
 * Boot policies (docs/boot-policy.md): one JSON file per released image, naming for each PCR of the
 * sha256 bank the values a gateway that booted that image may show. Every policy in the directory is
 * active; a quote passes if it matches any one of them.
 */
export const BOOT_POLICY_SCHEMA = "otgw.boot-policy/1";

export interface BootPolicy {
  schema: typeof BOOT_POLICY_SCHEMA;
  image: { name: string; version: string };
  bank: "sha256";
  /** PCR number (decimal string) -> allowed values, lowercase hex, 64 digits. */
  pcrs: Record<string, string[]>;
  /** Where it was read from (not in the file). */
  file: string;
}

const bad = (file: string, what: string): AttestError =>
  new AttestError("BOOT_POLICY_INVALID", `boot policy ${file}: ${what} (docs/boot-policy.md); fix the file or move it out of the policy directory`);

/** Parses and checks one policy file's text. */
export function parseBootPolicy(text: string, file: string): BootPolicy {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw bad(file, `not JSON (${errorText(err)})`);
  }
  const o = j as Partial<BootPolicy> | null;
  if (!o || typeof o !== "object") throw bad(file, "not a JSON object");
  if (o.schema !== BOOT_POLICY_SCHEMA) throw bad(file, `schema must be "${BOOT_POLICY_SCHEMA}"`);
  if (!o.image || typeof o.image.name !== "string" || typeof o.image.version !== "string" || !o.image.name || !o.image.version) throw bad(file, "image.name and image.version must be non-empty strings");
  if (o.bank !== "sha256") throw bad(file, 'bank must be "sha256"');
  if (!o.pcrs || typeof o.pcrs !== "object" || Object.keys(o.pcrs).length === 0) throw bad(file, "pcrs must name at least one PCR");
  const pcrs: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o.pcrs)) {
    if (!/^(?:[0-9]|1[0-9]|2[0-3])$/.test(k)) throw bad(file, `pcrs."${k}" is not a PCR number 0..23`);
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "string" && /^[0-9a-fA-F]{64}$/.test(x))) {
      throw bad(file, `pcrs."${k}" must be a non-empty list of 64-digit hex SHA-256 values`);
    }
    pcrs[k] = v.map((x: string) => x.toLowerCase());
  }
  return { schema: BOOT_POLICY_SCHEMA, image: { name: o.image.name, version: o.image.version }, bank: "sha256", pcrs, file };
}

/** Every `*.json` policy in `dir` (none when the directory does not exist). A bad file throws, naming it. */
export function loadBootPolicies(dir: string): BootPolicy[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => parseBootPolicy(readFileSync(join(dir, f), "utf8"), join(dir, f)));
}

/** The PCRs the active policies name (ascending), i.e. what a gateway is asked to quote. */
export function policyPcrs(policies: readonly BootPolicy[]): number[] {
  return [...new Set(policies.flatMap((p) => Object.keys(p.pcrs).map(Number)))].sort((a, b) => a - b);
}

/** How a set of PCR values compares with one policy. */
export interface PolicyDiff {
  policy: BootPolicy;
  /** PCRs whose value is not among the allowed ones (or that the quote lacks). */
  differ: Array<{ pcr: number; got: string | undefined; allowed: string[] }>;
}

/** Compares `pcrs` (number -> hex) with every policy; the first diff with no differences is a match. */
export function comparePolicies(pcrs: Record<string, string>, policies: readonly BootPolicy[]): PolicyDiff[] {
  return policies.map((policy) => ({
    policy,
    differ: Object.entries(policy.pcrs)
      .filter(([n, allowed]) => !allowed.includes((pcrs[n] ?? "").toLowerCase()))
      .map(([n, allowed]) => ({ pcr: Number(n), got: pcrs[n], allowed })),
  }));
}
