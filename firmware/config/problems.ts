import type { ErrorObject } from "ajv";

/**
 * Turns Ajv's errors into one `path: message` line each, in words a technician can act on. Ajv reports
 * a union of literals as one error per branch; those are folded into a single "must be one of" line.
 */
export function formatAjvErrors(errors: readonly ErrorObject[]): string[] {
  const folded = errors.filter((e) => e.keyword === "anyOf").map((e) => e.schemaPath + "/");
  const out: string[] = [];
  for (const e of errors) {
    // Branch errors under a folded anyOf add nothing the folded line does not already say.
    if (folded.some((prefix) => e.schemaPath.startsWith(prefix))) continue;
    out.push(formatOne(e));
  }
  return [...new Set(out)];
}

function formatOne(e: ErrorObject): string {
  const path = e.instancePath === "" ? "/" : e.instancePath;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return `${join(e.instancePath, String(params.missingProperty))}: is required`;
    case "additionalProperties": {
      const props = e.parentSchema?.properties as Record<string, unknown> | undefined;
      const allowed = props ? Object.keys(props).join(", ") : "none";
      return `${join(e.instancePath, String(params.additionalProperty))}: unknown field; allowed here: ${allowed}`;
    }
    case "const":
      return `${path}: must be ${JSON.stringify(params.allowedValue)}`;
    case "anyOf":
      return `${path}: must be one of: ${describeBranches(e.schema)}`;
    case "discriminator": {
      const tag = String(params.tag);
      if (params.error === "tag") return `${join(e.instancePath, tag)}: is required and must be a string`;
      const kinds = kindsOf(e.parentSchema);
      return `${join(e.instancePath, tag)}: unknown ${tag} ${JSON.stringify(params.tagValue)}; ${tag}s are: ${kinds}`;
    }
    default:
      return `${path}: ${e.message ?? e.keyword}`;
  }
}

function join(base: string, key: string): string {
  return `${base}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
}

function describeBranches(schema: unknown): string {
  if (!Array.isArray(schema)) return "the allowed forms";
  return schema
    .map((b: unknown) => {
      const s = b as Record<string, unknown>;
      if ("const" in s) return JSON.stringify(s.const);
      if (typeof s.type === "string") return s.type === "string" && typeof s.minLength === "number" ? "a non-empty string" : `a ${s.type}`;
      return "a sub-schema";
    })
    .join(", ");
}

function kindsOf(parent: unknown): string {
  const oneOf = (parent as { oneOf?: unknown } | undefined)?.oneOf;
  if (!Array.isArray(oneOf)) return "?";
  return oneOf
    .map((b: unknown) => (b as { properties?: { kind?: { const?: unknown } } }).properties?.kind?.const)
    .filter((k): k is string => typeof k === "string")
    .join(", ");
}
