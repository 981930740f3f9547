import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { LowSync } from "lowdb";
import type { Clock } from "../../kernel/clock.js";
import { writeFileDurably } from "../../kernel/durable-write.js";
import { errorText } from "../../kernel/errors.js";
import { DurableJsonFile } from "../../kernel/json-state.js";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import { AUDIT_EVENTS } from "../audit/events.js";
import { parseArtefact } from "./artefact.js";
import { readBundleFile } from "./config.js";
import { sha256 as sha, verifyBundle, type VerifiedBundle } from "./bundle.js";
import type { TrustedKey } from "./dsse.js";
import { MODEL_ERRORS, ModelError } from "./errors.js";
import type { LoadedModel } from "./stage.js";

/** Where model events go: the gateway's AuditLog (or anything with the same append). */
export interface AuditSink {
  append(type: string, data: Record<string, unknown>): unknown;
}

export interface ModelStoreOptions {
  /** Installed bundles and state.json live here (default <stateDir>/models). */
  dir: string;
  trusted: readonly TrustedKey[];
  /** Config override: install lower versions (each time audited with this reason). */
  allowRollback?: { reason: string } | undefined;
  audit: AuditSink;
  clock: Clock;
  logger?: Logger;
}

/** One accepted bundle, as recorded in state.json. */
export interface InstalledEntry {
  name: string;
  version: number;
  digest: string;
  file: string;
  signer: string;
  installedAt: string;
}

interface StoreState {
  active: { version: number; digest: string } | null;
  accepted: InstalledEntry[];
}

type Ref = { version: number; digest: string };

/**
 * The gateway's model store: installs verified bundles (signature, signer trust, digest, then
 * anti-rollback against the highest version ever accepted) and loads the active one, re-verified, at
 * start. Every decision is audited; a refused bundle never touches the active model.
 */
export class ModelStore {
  private readonly log: Logger;
  private readonly db: LowSync<StoreState>;

  constructor(private readonly o: ModelStoreOptions) {
    this.log = child(o.logger ?? silentLogger(), "models");
    // Not read here: state() reads it on every use, as before, so construction never fails.
    this.db = new LowSync(new DurableJsonFile<StoreState>(join(o.dir, "state.json")), emptyState());
  }

  /** Verifies and installs a bundle, making it the active model. Throws ModelError on refusal. */
  install(bytes: Buffer, origin: string): VerifiedBundle {
    let v: VerifiedBundle;
    try {
      v = verifyBundle(bytes, this.o.trusted);
      parseArtefact(v.artefact);
    } catch (err) {
      throw this.reject(err, { context: "install", origin, bundleSha256: sha(bytes) });
    }
    const st = this.state();
    const same = st.accepted.find((e) => e.version === v.version);
    const highest = Math.max(0, ...st.accepted.map((e) => e.version));
    const from: Ref | null = st.active;
    const to: Ref = { version: v.version, digest: v.digest };
    const ctx = { context: "install", origin, bundleSha256: v.bundleSha256, version: v.version, digest: v.digest };
    if (same && same.digest !== v.digest) {
      throw this.reject(new ModelError(MODEL_ERRORS.versionReused, `model version ${v.version} is already installed with a different artefact: a new release needs a new version number`), ctx);
    }
    if (v.version < highest) {
      if (!this.o.allowRollback) {
        throw this.reject(new ModelError(MODEL_ERRORS.rollback, `model version ${v.version} is lower than version ${highest} already accepted: rollback refused; to roll back on purpose set models.allowRollback.reason in the config (audited)`), ctx);
      }
      this.o.audit.append(AUDIT_EVENTS.modelRollbackOverride, { from, to, highest, reason: this.o.allowRollback.reason });
      this.log.warn({ from: from?.version, to: v.version, reason: this.o.allowRollback.reason }, "model rollback allowed by config override (audited)");
    }
    const entry: InstalledEntry = same ?? {
      name: v.name, version: v.version, digest: v.digest, file: `${v.name}-v${v.version}-${v.digest.slice(0, 16)}.bundle.json`,
      signer: v.signer.name, installedAt: new Date(this.o.clock.nowMs()).toISOString(),
    };
    mkdirSync(join(this.o.dir, "bundles"), { recursive: true, mode: 0o700 });
    // Durable before state.json names it: after a power cut the active model's bundle is never missing.
    writeFileDurably(join(this.o.dir, "bundles", entry.file), bytes);
    this.o.audit.append(AUDIT_EVENTS.modelAccepted, { ...ctx, name: v.name, signer: v.signer.name, keyid: v.signer.keyid });
    this.save({ active: to, accepted: same ? st.accepted : [...st.accepted, entry] });
    this.o.audit.append(AUDIT_EVENTS.modelPromoted, { from, to, name: v.name });
    this.log.info({ name: v.name, version: v.version, digest: v.digest, from: from?.version ?? null }, "model installed and promoted");
    return v;
  }

  /** The active model, re-verified from disk (a bundle edited at rest is refused and audited). */
  loadActive(): LoadedModel {
    const st = this.state();
    const entry = st.active && st.accepted.find((e) => e.version === st.active?.version && e.digest === st.active.digest);
    if (!entry) throw new ModelError(MODEL_ERRORS.noModel, `no model installed in ${this.o.dir}: install one with \`otgw model install BUNDLE -c CONFIG\``);
    const file = join(this.o.dir, "bundles", entry.file);
    let v: VerifiedBundle;
    let bytes: Buffer | null = null;
    try {
      bytes = readBundleFile(file);
      v = verifyBundle(bytes, this.o.trusted);
      if (v.digest !== entry.digest || v.version !== entry.version) throw new ModelError(MODEL_ERRORS.digestMismatch, `installed bundle ${entry.file} no longer holds the accepted model ${entry.digest.slice(0, 16)}…: reinstall it`);
      const artefact = parseArtefact(v.artefact);
      this.o.audit.append(AUDIT_EVENTS.modelLoaded, { name: v.name, version: v.version, digest: v.digest, signer: v.signer.name });
      return { ref: { name: v.name, version: v.version, digest: v.digest }, artefact };
    } catch (err) {
      throw this.reject(err, { context: "start", origin: entry.file, bundleSha256: bytes ? sha(bytes) : null, version: entry.version, digest: entry.digest });
    }
  }

  /** Accepted bundles, oldest first, with which one is active. */
  list(): Array<InstalledEntry & { active: boolean }> {
    const st = this.state();
    return st.accepted.map((e) => ({ ...e, active: st.active?.version === e.version && st.active.digest === e.digest }));
  }

  private reject(err: unknown, ctx: Record<string, unknown>): ModelError {
    const e = err instanceof ModelError ? err : new ModelError(MODEL_ERRORS.malformed, errorText(err), { cause: err });
    this.o.audit.append(AUDIT_EVENTS.modelRejected, { ...ctx, code: e.code, reason: e.message });
    this.log.warn({ code: e.code, ...ctx }, "model bundle refused");
    return e;
  }

  /** state.json as it is on disk now; the defaults while there is none. */
  private state(): StoreState {
    this.db.data = emptyState();
    this.db.read();
    return this.db.data;
  }

  private save(s: StoreState): void {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    this.db.data = s;
    this.db.write();
  }
}

function emptyState(): StoreState {
  return { active: null, accepted: [] };
}

