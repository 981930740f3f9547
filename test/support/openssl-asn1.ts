/**
 * OpenSSL as an independent DER reader and writer for tests of our own encoders: `openssl asn1parse`
 * lists a structure, `openssl asn1parse -genconf` builds one from a textual description.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One line of `openssl asn1parse`: where the element starts, its header and content lengths. */
export interface Asn1Node {
  offset: number;
  depth: number;
  headerLength: number;
  length: number;
  /** e.g. "SEQUENCE", "OBJECT", "cont [ 0 ]", "BIT STRING". */
  type: string;
  /** What OpenSSL prints after the type (an OID name, a string, an integer or a hex dump), trimmed. */
  value: string;
}

function run(args: string[], input?: Buffer): Buffer {
  const r = openssl(args, input);
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The elements of `der` as OpenSSL reads them, in order. Throws if OpenSSL cannot parse it. */
export function asn1parse(der: Buffer): Asn1Node[] {
  const text = run(["asn1parse", "-inform", "DER"], der).toString("utf8");
  return text.split("\n").filter((l) => l.trim() !== "").map((line) => {
    const m = /^\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)\s+(?:prim|cons):\s*(.*?)\s*(?::(.*))?$/.exec(line);
    if (!m) throw new Error(`unexpected asn1parse line: ${line}`);
    return { offset: Number(m[1]), depth: Number(m[2]), headerLength: Number(m[3]), length: Number(m[4]), type: (m[5] ?? "").replace(/\s*\[HEX DUMP\]$/, "").trim(), value: (m[6] ?? "").trim() };
  });
}

/** The whole encoding (header and content) of one listed element. */
export function elementBytes(der: Buffer, n: Asn1Node): Buffer {
  return der.subarray(n.offset, n.offset + n.headerLength + n.length);
}

/** DER built by OpenSSL from an ASN1_generate_nconf description (`asn1 = …` plus sections). */
export function genconf(config: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "otgw-genconf-"));
  try {
    writeFileSync(join(dir, "in.cnf"), config);
    run(["asn1parse", "-genconf", join(dir, "in.cnf"), "-noout", "-out", join(dir, "out.der")]);
    return readFileSync(join(dir, "out.der"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs openssl with `args`; its exit status, stdout as bytes (DER survives) and stderr as text. */
export function openssl(args: string[], input?: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync("openssl", args, { input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}
