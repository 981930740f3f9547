/**
 * Writes docs/envelope-vectors.json from devkit/envelope-vectors.ts (test/envelope/vectors.test.ts runs
 * the same generator). Keys, certificates and the two session-open frames are reused from the existing
 * file so data frames and chain values stay byte-for-byte stable; pass --fresh to draw new ones. ECDSA
 * signatures and HPKE ephemeral keys are randomized, so checkpoint, session-end and the refused
 * session-open frames change on every run: they are checked by verification, not by bytes.
 *
 *   node --import tsx scripts/gen-envelope-vectors.ts [--fresh]
 */
import "reflect-metadata";
import { createPrivateKey, type JsonWebKey } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { freshVectorKeys, generateVectors, type VectorKeys } from "../devkit/envelope-vectors.js";

const OUT = new URL("../docs/envelope-vectors.json", import.meta.url);
const fresh = process.argv.includes("--fresh") || !existsSync(OUT);

interface Old {
  gatewayKeyJwk: JsonWebKey; receiverKeyJwk: JsonWebKey; caCertDer: string; leafCertDer: string;
  sessionOpen: { frame: string }; gapSession?: { openFrame: string }; orderSession?: { openFrame: string };
}

let keys: VectorKeys;
if (fresh) {
  keys = await freshVectorKeys();
} else {
  const old = JSON.parse(readFileSync(OUT, "utf8")) as Old;
  keys = {
    gatewayKey: createPrivateKey({ key: old.gatewayKeyJwk, format: "jwk" }),
    receiverKey: createPrivateKey({ key: old.receiverKeyJwk, format: "jwk" }),
    caDer: Buffer.from(old.caCertDer, "hex"),
    leafDer: Buffer.from(old.leafCertDer, "hex"),
    // Keep the session-open frames (and so h0 and every chain value).
    openFrames: { a: Buffer.from(old.sessionOpen.frame, "hex"), ...(old.gapSession ? { b: Buffer.from(old.gapSession.openFrame, "hex") } : {}),
      ...(old.orderSession ? { c: Buffer.from(old.orderSession.openFrame, "hex") } : {}) },
  };
}
writeFileSync(OUT, `${JSON.stringify(await generateVectors(keys), null, 2)}\n`);
console.log(`wrote ${OUT.pathname} (${fresh ? "fresh keys" : "kept keys"})`);
