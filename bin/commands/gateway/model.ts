import { join } from "node:path";
import { systemClock } from "../../../kernel/clock.js";
import { createLogger } from "../../../kernel/log.js";
import { loadConfig } from "../../../firmware/config/load.js";
import { AuditLog } from "../../../firmware/audit/audit-log.js";
import { openIdentity } from "../../../provisioning/identity.js";
import { parseArtefact } from "../../../firmware/models/artefact.js";
import { verifyBundle } from "../../../firmware/models/bundle.js";
import { readBundleFile } from "../../../firmware/models/config.js";
import { readPublicKeyFile } from "../../../kernel/pem.js";
import { trustedKey } from "../../../firmware/models/dsse.js";
import { ModelError } from "../../../firmware/models/errors.js";
import { openModelStore } from "../../../firmware/models/runtime.js";
import { printJson, stdio, type Io } from "../../output.js";

// The gateway's side of `otgw model`; keygen, train and sign (the registry's side) are in model-fleet.ts.
// Output: JSON lines on stdout, errors on stderr (so CI can parse both).

/** `otgw model verify BUNDLE --trusted PEM [--trusted PEM]...`: registry/CI-side check, no anti-rollback (no gateway state). */
export function modelVerify(file: string, trusted: readonly string[], io: Io = stdio): number {
  return guard(io, () => {
    const keys = trusted.map((f) => trustedKey(f, readPublicKeyFile(f, { what: "the trusted model signer key", fix: "pass the registry's model-signer.pub.pem (`otgw model keygen` makes it)" }).export({ type: "spki", format: "pem" }).toString()));
    const v = verifyBundle(readBundleFile(file), keys);
    parseArtefact(v.artefact);
    printJson({ ok: true, name: v.name, version: v.version, digest: v.digest, signer: v.signer.keyid, predicate: v.predicate }, io);
  });
}

/**
 * `otgw model install BUNDLE -c CONFIG`: full gateway-side checks (including anti-rollback), then the
 * bundle becomes the active model at the next start. Audited in the gateway's own log, so run it
 * while the gateway is stopped (one writer per audit log).
 */
export async function modelInstall(file: string, configFile: string, io: Io = stdio): Promise<number> {
  const { config } = loadConfig(configFile);
  const identity = await openIdentity(config);
  const audit = AuditLog.open(join(config.gateway.stateDir, "audit.jsonl"), { signer: identity.signer, clock: systemClock, checkpointEvery: config.audit.checkpointEveryEntries });
  try {
    return guard(io, () => {
      const v = openModelStore(config, audit, systemClock, createLogger()).install(readBundleFile(file), file);
      printJson({ ok: true, installed: { name: v.name, version: v.version, digest: v.digest, signer: v.signer.name } }, io);
    });
  } finally {
    await audit.close();
  }
}

/** `otgw model list -c CONFIG`: accepted bundles and the active one. */
export function modelList(configFile: string, io: Io = stdio): number {
  const { config } = loadConfig(configFile);
  const noAudit = { append: (): void => undefined };
  for (const e of openModelStore(config, noAudit, systemClock).list()) printJson(e, io);
  return 0;
}

function guard(io: Io, fn: () => void): number {
  try {
    fn();
    return 0;
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    io.err(`otgw model: ${err.message} [${err.code}]`);
    printJson({ ok: false, code: err.code }, io);
    return 3;
  }
}
