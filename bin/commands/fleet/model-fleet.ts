import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemClock } from "../../../kernel/clock.js";
import { repoRoot } from "../../../kernel/paths.js";
import { readPrivateKeyFile } from "../../../kernel/pem.js";
import { loadConfig } from "../../../firmware/config/load.js";
import { ARTEFACT_MEDIA_TYPE, parseArtefact } from "../../../firmware/models/artefact.js";
import { createBundle } from "../../../firmware/models/bundle.js";
import { keyIdOf } from "../../../firmware/models/dsse.js";
import { codeCommit, draftPredicate } from "../../../firmware/models/provenance.js";
import type { ModelPredicate } from "../../../firmware/models/statement.js";
import { simSourceOf, simTrainingAssets, simTrainingSet } from "../../../fleet/models/sim-data.js";
import { trainModel } from "../../../fleet/models/train.js";
import { printJson, stdio, type Io } from "../../output.js";

// The model registry's side of `otgw model` (fleet); the gateway's side is in model.ts.
// Output: JSON lines on stdout, errors on stderr (so CI can parse both).

/** `otgw model keygen --out DIR`: an ECDSA P-256 model-signing key pair (the registry keeps the private half). */
export function modelKeygen(dir: string, io: Io = stdio): number {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(join(dir, "model-signer.key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  writeFileSync(join(dir, "model-signer.pub.pem"), publicKey.export({ type: "spki", format: "pem" }), { flag: "wx" });
  printJson({ keyid: keyIdOf(publicKey), publicKeyFile: join(dir, "model-signer.pub.pem") }, io);
  return 0;
}

export interface TrainOptions { config: string; out: string; name: string; version: number; seconds: number; startMs?: number; jobId?: string }

/**
 * `otgw model train`: learns the model from the config's simulated plant (faults removed) and writes
 * `<out>/model.json` (artefact) and `<out>/provenance.json` (the predicate to review and sign).
 */
export function modelTrain(o: TrainOptions, io: Io = stdio): number {
  const { config } = loadConfig(o.config);
  const src = simSourceOf(config);
  const seconds = o.seconds;
  const startMs = o.startMs ?? 1_700_000_000_000;
  const { samples, sha256 } = simTrainingSet(config, src, startMs, seconds);
  const params = { windowMs: 1000, minSamples: 5, driftEveryWindows: 120, maxLagWindows: 150 };
  const artefact = trainModel(samples, { assets: simTrainingAssets(config, src), ...params });
  const createdAt = new Date(systemClock.nowMs()).toISOString();
  const predicate = draftPredicate(artefact, {
    name: o.name, version: o.version, jobId: o.jobId ?? `local-${createdAt}`, commit: codeCommit(repoRoot()), createdAt,
    dataset: { name: `sim:${src.id}:seed=${src.seed}:start=${startMs}:seconds=${seconds}`, sha256, description: "healthy simulated plant, faults removed" },
    parameters: { ...params, trainingSeconds: seconds, rateHz: src.rateHz },
  });
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, "model.json"), `${JSON.stringify(artefact, null, 2)}\n`);
  writeFileSync(join(o.out, "provenance.json"), `${JSON.stringify(predicate, null, 2)}\n`);
  printJson({ artefact: join(o.out, "model.json"), provenance: join(o.out, "provenance.json"), datasetSha256: sha256, samples: samples.length }, io);
  return 0;
}

export interface SignOptions { artefact: string; provenance: string; key: string; out: string }

/** `otgw model sign`: DSSE-signs an in-toto statement over the artefact digest with the provenance as predicate. */
export function modelSign(o: SignOptions, io: Io = stdio): number {
  const artefact = readFileSync(o.artefact);
  parseArtefact(artefact);
  const predicate = JSON.parse(readFileSync(o.provenance, "utf8")) as ModelPredicate;
  const key = readPrivateKeyFile(o.key, { what: "the model-signing key (--key)", fix: "pass the model-signer.key.pem that `otgw model keygen` wrote" });
  const bundle = createBundle(artefact, "model.json", ARTEFACT_MEDIA_TYPE, predicate, key);
  writeFileSync(o.out, bundle);
  printJson({ bundle: o.out, version: predicate.model.version, keyid: keyIdOf(key) }, io);
  return 0;
}
