/**
 * The error code tables (kernel/error-codes.ts): every code is unique across tables, well formed, and
 * thrown somewhere (no dead codes, no dead families); a code that crossed a boundary comes back as
 * its own family.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as codes from "../../kernel/error-codes.js";
import { AttestError, CaError, EstError, GatewayError, KeyStoreError, TpmError, errorFromWire } from "../../kernel/errors.js";
import { repoRoot } from "../../kernel/paths.js";

const tables = Object.entries(codes).filter(([name]) => name.endsWith("_CODES")) as Array<[string, Record<string, string>]>;

void test("every code is well formed, has a meaning, and belongs to exactly one table", () => {
  assert.ok(tables.length >= 10, `expected a table per area, found ${tables.length}`);
  const owner = new Map<string, string>();
  for (const [table, entries] of tables) {
    for (const [code, meaning] of Object.entries(entries)) {
      assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/, `${table}.${code}`);
      assert.ok(meaning.length > 10, `${table}.${code} says what it means`);
      assert.equal(owner.get(code), undefined, `${code} is in ${owner.get(code) ?? ""} and ${table}`);
      owner.set(code, table);
    }
  }
});

void test("every code in the tables is used by the code base (no dead codes)", () => {
  const root = repoRoot();
  let text = "";
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(".ts") && !p.endsWith(join("kernel", "error-codes.ts"))) text += readFileSync(p, "utf8");
    }
  };
  for (const d of ["kernel", "envelope", "hal", "firmware", "provisioning", "fleet", "ingest", "devkit", "bin"]) walk(join(root, d));
  const unused = tables.flatMap(([, entries]) => Object.keys(entries)).filter((c) => !text.includes(`"${c}"`));
  assert.deepEqual(unused, [], "codes no source file raises");
});

void test("errorFromWire gives the family that owns the code, and nothing for an unknown code", () => {
  const cases: Array<[string, new (...a: never[]) => GatewayError]> = [
    ["KEY_MISSING", KeyStoreError], ["TPM_UNREACHABLE", TpmError], ["EK_CHAIN_UNTRUSTED", AttestError],
    ["CLIENT_CERT_INVALID", EstError], ["CA_MISSING", CaError],
  ];
  for (const [code, family] of cases) {
    const e = errorFromWire(code, "m");
    assert.ok(e instanceof family, `${code} → ${family.name}, got ${e?.constructor.name ?? "undefined"}`);
    assert.equal(e.code, code);
    assert.equal(e.message, "m");
  }
  assert.equal(errorFromWire("NOT_A_CODE", "m"), undefined);
  assert.equal(errorFromWire(undefined, "m"), undefined);
  // CONFIG_INVALID carries a problem list and is never rebuilt from a bare code.
  assert.equal(errorFromWire("CONFIG_INVALID", "m"), undefined);
});
