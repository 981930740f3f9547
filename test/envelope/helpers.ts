/**
 * Envelope test fixtures. The CA, leaves and sealer/verifier pair live in devkit/ (the benches and the
 * vector generator use them too); this module re-exports them for the tests and adds what only tests use.
 */
export { makeCa, makeLeaf, type LeafOptions, type TestCa, type TestLeaf } from "../../devkit/test-pki.js";
export { makeWorld, type World } from "../../devkit/envelope-world.js";

/** JSON of a result for assertion messages (bigints as strings, buffers as hex). */
export function show(x: unknown): string {
  return JSON.stringify(x, (_k, val: unknown) => (typeof val === "bigint" ? val.toString() : val));
}
