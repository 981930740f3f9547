import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { ManualClock } from "../kernel/clock.js";
import { SessionSealer, type SealerOptions } from "../envelope/sealer.js";
import { MemoryVerifierState, Verifier, type TrustOptions } from "../envelope/verify/verifier.js";
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from "./test-pki.js";

/**
 * DEVELOPMENT, TESTS AND BENCH ONLY: one gateway and one receiver that trust each other, for driving
 * the sealer and the verifier directly (envelope tests, the seal and adapter benches).
 */

/** A complete pair: CA, gateway leaf, receiver key, sealer factory and verifier factory. */
export interface World {
  ca: TestCa;
  gatewayId: string;
  stream: string;
  topic: string;
  leaf: TestLeaf;
  receiverKey: KeyObject;
  /** Starts at 1.8e12 ms (January 2027), inside the fixture certificates' validity. */
  clock: ManualClock;
  sealer(over?: Partial<SealerOptions>): Promise<SessionSealer>;
  verifier(trust?: Partial<TrustOptions>, state?: MemoryVerifierState): Verifier;
}

/** Builds a {@link World} with gateway "gw-test-01" and stream "line1". */
export async function makeWorld(gatewayId = "gw-test-01", stream = "line1"): Promise<World> {
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, { cn: gatewayId });
  const receiverKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const clock = new ManualClock(1_800_000_000_000);
  return {
    ca, gatewayId, stream, topic: `otgw/v1/${gatewayId}/${stream}`, leaf, receiverKey, clock,
    sealer: (over = {}) => SessionSealer.open({
      gatewayId, stream, signer: leaf.signer, certDer: leaf.der, recipientPublicKey: receiverKey, clock,
      checkpointEveryMessages: 100, checkpointEveryMs: 10_000, ...over,
    }),
    verifier: (trust = {}, state = new MemoryVerifierState()) => new Verifier({
      trust: { caCertsDer: [ca.certDer], ...trust }, recipientPrivateKey: receiverKey, state, clock,
    }),
  };
}
