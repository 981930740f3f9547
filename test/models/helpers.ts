import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { ARTEFACT_MEDIA_TYPE, type ModelArtefact } from "../../firmware/models/artefact.js";
import { createBundle } from "../../firmware/models/bundle.js";
import { trustedKey, type TrustedKey } from "../../firmware/models/dsse.js";
import { draftPredicate } from "../../firmware/models/provenance.js";
import type { AuditSink } from "../../firmware/models/store.js";

/** A model-signing key pair made at test time (no private key is ever committed). */
export interface TestSigner {
  privateKey: KeyObject;
  publicPem: string;
  trusted: TrustedKey;
}

export function newSigner(name = "registry"): TestSigner {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return { privateKey, publicPem, trusted: trustedKey(name, publicPem) };
}

/** A signed bundle of `artefact` at `version`, with a complete provenance predicate. */
export function bundleOf(artefact: ModelArtefact, version: number, signer: TestSigner, tweak?: (a: ModelArtefact) => void): Buffer {
  const a = structuredClone(artefact);
  tweak?.(a);
  const predicate = draftPredicate(a, {
    name: "rotating-equipment", version, jobId: `test-job-${version}`, commit: "0123456789abcdef0123456789abcdef01234567",
    createdAt: "2024-05-01T12:00:00.000Z", parameters: { windowMs: a.windowMs },
    dataset: { name: "sim:plant:test", sha256: "a".repeat(64), description: "test data" },
  });
  predicate.approvals = [{ by: "reliability-lead", role: "approver", at: "2024-05-02T08:00:00.000Z" }];
  return createBundle(Buffer.from(JSON.stringify(a)), "model.json", ARTEFACT_MEDIA_TYPE, predicate, signer.privateKey);
}

/** Audit events captured in memory (the store's contract is just `append`). */
export class MemoryAudit implements AuditSink {
  readonly events: Array<{ type: string; data: Record<string, unknown> }> = [];
  append(type: string, data: Record<string, unknown>): void {
    this.events.push({ type, data });
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
  last(): { type: string; data: Record<string, unknown> } | undefined {
    return this.events[this.events.length - 1];
  }
}

/** A small valid artefact (tests of the bundle format do not need a trained model). */
export function tinyArtefact(): ModelArtefact {
  const feature = (point: string, level: boolean): ModelArtefact["assets"][number]["features"][number] => ({
    point, unit: "u", noiseSigma: 0.1, spikeThreshold: 6, stuckRatio: 0.2,
    level: level ? { lagWindows: 0, a: 1, b: 0.2, sigma: 0.05, threshold: 5 } : null,
    baseline: { mean: 1, std: 0.2, cuts: [0.8, 1, 1.2] },
  });
  return {
    kind: "otgw.robust-residual/1", windowMs: 1000, minSamples: 5, driftEveryWindows: 60,
    assets: [{ id: "m1", loadPoint: "m1.current", load: { mean: 10, std: 1 }, features: [feature("m1.current", false), feature("m1.vib", true)] }],
  };
}
