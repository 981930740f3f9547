import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemClock } from "../../kernel/clock.js";
import { createLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import { loadConfig } from "../../firmware/config/load.js";
import { AuditLog } from "../../firmware/audit/audit-log.js";
import { openIdentity } from "../../provisioning/identity.js";
import { ARTEFACT_MEDIA_TYPE, parseArtefact } from "../../firmware/models/artefact.js";
import { createBundle, verifyBundle } from "../../firmware/models/bundle.js";
import { keyIdOf, trustedKey } from "../../firmware/models/dsse.js";
import { ModelError } from "../../firmware/models/errors.js";
import { codeCommit, draftPredicate } from "../../firmware/models/provenance.js";
import { openModelStore } from "../../firmware/models/runtime.js";
import type { ModelPredicate } from "../../firmware/models/statement.js";
import { simSourceOf, simTrainingAssets, simTrainingSet } from "../../fleet/models/sim-data.js";
import { trainModel } from "../../fleet/models/train.js";

/** Output of the commands: JSON lines on stdout, errors on stderr (so CI can parse both). */
export interface ModelIo {
  out(line: string): void;
  err(line: string): void;
}
const stdio: ModelIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

/** `otgw model keygen --out DIR`: an ECDSA P-256 model-signing key pair (the registry keeps the private half). */
export function modelKeygen(dir: string, io: ModelIo = stdio): number {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(join(dir, "model-signer.key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  writeFileSync(join(dir, "model-signer.pub.pem"), publicKey.export({ type: "spki", format: "pem" }), { flag: "wx" });
  io.out(JSON.stringify({ keyid: keyIdOf(publicKey), publicKeyFile: join(dir, "model-signer.pub.pem") }));
  return 0;
}

export interface TrainOptions { config: string; out: string; name: string; version: string; seconds: string; startMs?: string; jobId?: string }

/**
 * `otgw model train`: learns the model from the config's simulated plant (faults removed) and writes
 * `<out>/model.json` (artefact) and `<out>/provenance.json` (the predicate to review and sign).
 */
export function modelTrain(o: TrainOptions, io: ModelIo = stdio): number {
  const { config } = loadConfig(o.config);
  const src = simSourceOf(config);
  const seconds = Number(o.seconds);
  const startMs = o.startMs !== undefined ? Number(o.startMs) : 1_700_000_000_000;
  const { samples, sha256 } = simTrainingSet(config, src, startMs, seconds);
  const params = { windowMs: 1000, minSamples: 5, driftEveryWindows: 120, maxLagWindows: 150 };
  const artefact = trainModel(samples, { assets: simTrainingAssets(config, src), ...params });
  const createdAt = new Date(systemClock.nowMs()).toISOString();
  const predicate = draftPredicate(artefact, {
    name: o.name, version: Number(o.version), jobId: o.jobId ?? `local-${createdAt}`, commit: codeCommit(repoRoot()), createdAt,
    dataset: { name: `sim:${src.id}:seed=${src.seed}:start=${startMs}:seconds=${seconds}`, sha256, description: "healthy simulated plant, faults removed" },
    parameters: { ...params, trainingSeconds: seconds, rateHz: src.rateHz },
  });
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, "model.json"), `${JSON.stringify(artefact, null, 2)}\n`);
  writeFileSync(join(o.out, "provenance.json"), `${JSON.stringify(predicate, null, 2)}\n`);
  io.out(JSON.stringify({ artefact: join(o.out, "model.json"), provenance: join(o.out, "provenance.json"), datasetSha256: sha256, samples: samples.length }));
  return 0;
}

export interface SignOptions { artefact: string; provenance: string; key: string; out: string }

/** `otgw model sign`: DSSE-signs an in-toto statement over the artefact digest with the provenance as predicate. */
export function modelSign(o: SignOptions, io: ModelIo = stdio): number {
  const artefact = readFileSync(o.artefact);
  parseArtefact(artefact);
  const predicate = JSON.parse(readFileSync(o.provenance, "utf8")) as ModelPredicate;
  const key = createPrivateKey(readFileSync(o.key, "utf8"));
  const bundle = createBundle(artefact, "model.json", ARTEFACT_MEDIA_TYPE, predicate, key);
  writeFileSync(o.out, bundle);
  io.out(JSON.stringify({ bundle: o.out, version: predicate.model.version, keyid: keyIdOf(key) }));
  return 0;
}

/** `otgw model verify BUNDLE --trusted PEM...`: registry/CI-side check, no anti-rollback (no gateway state). */
export function modelVerify(file: string, trusted: readonly string[], io: ModelIo = stdio): number {
  return guard(io, () => {
    const keys = trusted.map((f) => trustedKey(f, readFileSync(f, "utf8")));
    const v = verifyBundle(readFileSync(file), keys);
    parseArtefact(v.artefact);
    io.out(JSON.stringify({ ok: true, name: v.name, version: v.version, digest: v.digest, signer: v.signer.keyid, predicate: v.predicate }));
  });
}

/**
 * `otgw model install BUNDLE -c CONFIG`: full gateway-side checks (including anti-rollback), then the
 * bundle becomes the active model at the next start. Audited in the gateway's own log, so run it
 * while the gateway is stopped (one writer per audit log).
 */
export async function modelInstall(file: string, configFile: string, io: ModelIo = stdio): Promise<number> {
  const { config } = loadConfig(configFile);
  const identity = await openIdentity(config);
  const audit = AuditLog.open(join(config.gateway.stateDir, "audit.jsonl"), { signer: identity.signer, clock: systemClock, checkpointEvery: config.audit.checkpointEveryEntries });
  try {
    return guard(io, () => {
      const v = openModelStore(config, audit, systemClock, createLogger()).install(readFileSync(file), file);
      io.out(JSON.stringify({ ok: true, installed: { name: v.name, version: v.version, digest: v.digest, signer: v.signer.name } }));
    });
  } finally {
    await audit.close();
  }
}

/** `otgw model list -c CONFIG`: accepted bundles and the active one. */
export function modelList(configFile: string, io: ModelIo = stdio): number {
  const { config } = loadConfig(configFile);
  const noAudit = { append: (): void => undefined };
  for (const e of openModelStore(config, noAudit, systemClock).list()) io.out(JSON.stringify(e));
  return 0;
}

function guard(io: ModelIo, fn: () => void): number {
  try {
    fn();
    return 0;
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    io.err(`otgw model: ${err.message} [${err.code}]`);
    io.out(JSON.stringify({ ok: false, code: err.code }));
    return 3;
  }
}
