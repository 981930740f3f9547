import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../kernel/clock.js";
import { AUDIT_EVENTS } from "../../firmware/audit/events.js";
import { verifyBundle, type BundleFile } from "../../firmware/models/bundle.js";
import { MODEL_ERRORS, ModelError, type ModelErrorCode } from "../../firmware/models/errors.js";
import { ModelStore } from "../../firmware/models/store.js";
import { bundleOf, MemoryAudit, newSigner, tinyArtefact } from "./helpers.js";

const registry = newSigner("registry");
const base = tinyArtefact();
const v1 = bundleOf(base, 1, registry);
const v2 = bundleOf(base, 2, registry, (a) => (a.driftEveryWindows = 30));

function store(opts: { allowRollback?: { reason: string } } = {}): { s: ModelStore; audit: MemoryAudit; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "otgw-models-"));
  const audit = new MemoryAudit();
  return { s: new ModelStore({ dir, trusted: [registry.trusted], audit, clock: new ManualClock(), ...opts }), audit, dir };
}

function edit(bytes: Buffer, fn: (b: BundleFile) => void): Buffer {
  const b = JSON.parse(bytes.toString("utf8")) as BundleFile;
  fn(b);
  return Buffer.from(JSON.stringify(b));
}

function refused(fn: () => unknown, code: ModelErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof ModelError && e.code === code, `expected ${code}`);
}

void test("a signed bundle verifies: digest, version, provenance and signer come back", () => {
  const v = verifyBundle(v1, [registry.trusted]);
  assert.equal(v.version, 1);
  assert.match(v.digest, /^[0-9a-f]{64}$/);
  assert.equal(v.signer.keyid, registry.trusted.keyid);
  assert.equal(v.predicate.training.jobId, "test-job-1");
  assert.equal(v.predicate.approvals.length, 1);
  const env = (JSON.parse(v1.toString("utf8")) as BundleFile).dsseEnvelope;
  assert.equal(env.payloadType, "application/vnd.in-toto+json");
  const st = JSON.parse(Buffer.from(env.payload, "base64").toString("utf8")) as { _type: string; subject: Array<{ digest: { sha256: string } }> };
  assert.equal(st._type, "https://in-toto.io/Statement/v1");
  assert.equal(st.subject[0]?.digest.sha256, v.digest, "the statement's subject is the artefact digest");
});

void test("each refusal path has its own code and audit event, and the last good model keeps running", () => {
  const { s, audit } = store();
  s.install(v2, "v2");
  const cases: Array<[string, Buffer, ModelErrorCode]> = [
    ["unsigned", edit(v2, (b) => (b.dsseEnvelope.signatures = [])), MODEL_ERRORS.unsigned],
    ["tampered statement", edit(v2, (b) => {
      const st = JSON.parse(Buffer.from(b.dsseEnvelope.payload, "base64").toString("utf8")) as { predicate: { model: { version: number } } };
      st.predicate.model.version = 9;
      b.dsseEnvelope.payload = Buffer.from(JSON.stringify(st)).toString("base64");
    }), MODEL_ERRORS.badSignature],
    ["tampered artefact", edit(v2, (b) => {
      const a = JSON.parse(Buffer.from(b.artefact.data, "base64").toString("utf8")) as { minSamples: number };
      a.minSamples = 2;
      b.artefact.data = Buffer.from(JSON.stringify(a)).toString("base64");
    }), MODEL_ERRORS.digestMismatch],
    ["untrusted signer", bundleOf(base, 3, newSigner("mallory")), MODEL_ERRORS.untrustedSigner],
    ["forged keyid", edit(bundleOf(base, 3, newSigner("mallory")), (b) => (b.dsseEnvelope.signatures[0]!.keyid = registry.trusted.keyid)), MODEL_ERRORS.badSignature],
    ["rollback", v1, MODEL_ERRORS.rollback],
    ["version reuse", bundleOf(base, 2, registry, (a) => (a.minSamples = 3)), MODEL_ERRORS.versionReused],
    ["not a bundle", Buffer.from("{\"hello\":1}"), MODEL_ERRORS.malformed],
    ["unsupported model", bundleOf(base, 4, registry, (a) => (a.assets[0]!.loadPoint = "nope")), MODEL_ERRORS.unsupported],
  ];
  for (const [what, bytes, code] of cases) {
    const before = audit.events.length;
    refused(() => s.install(bytes, what), code);
    const ev = audit.events.slice(before);
    assert.deepEqual(ev.map((e) => e.type), [AUDIT_EVENTS.modelRejected], what);
    assert.equal(ev[0]?.data.code, code, what);
    assert.match(String(ev[0]?.data.bundleSha256), /^[0-9a-f]{64}$/, what);
    const active = s.loadActive();
    assert.equal(active.ref.version, 2, `${what}: v2 still active`);
  }
});

void test("promotion v1 → v2 is audited: accepted, promoted with from/to", () => {
  const { s, audit } = store();
  const a = s.install(v1, "v1");
  const b = s.install(v2, "v2");
  assert.deepEqual(audit.types(), [AUDIT_EVENTS.modelAccepted, AUDIT_EVENTS.modelPromoted, AUDIT_EVENTS.modelAccepted, AUDIT_EVENTS.modelPromoted]);
  assert.deepEqual(audit.events[3]?.data.from, { version: 1, digest: a.digest });
  assert.deepEqual(audit.events[3]?.data.to, { version: 2, digest: b.digest });
  assert.equal(audit.events[2]?.data.signer, "registry");
  assert.equal(s.loadActive().ref.digest, b.digest);
  assert.equal(audit.last()?.type, AUDIT_EVENTS.modelLoaded);
  assert.deepEqual(s.list().map((e) => [e.version, e.active]), [[1, false], [2, true]]);
});

void test("rollback is allowed only by the config override, and audited with its reason", () => {
  const { s, audit } = store({ allowRollback: { reason: "v2 false alarms on line 3, ticket OPS-42" } });
  s.install(v1, "v1");
  s.install(v2, "v2");
  s.install(v1, "v1 again");
  const override = audit.events.find((e) => e.type === AUDIT_EVENTS.modelRollbackOverride);
  assert.equal(override?.data.reason, "v2 false alarms on line 3, ticket OPS-42");
  assert.deepEqual((override?.data.to as { version: number }).version, 1);
  assert.equal(audit.last()?.type, AUDIT_EVENTS.modelPromoted);
  assert.equal(s.loadActive().ref.version, 1);
  s.install(v2, "v2 again");
  assert.equal(s.loadActive().ref.version, 2, "re-promoting the highest version needs no override");
});

void test("a bundle edited at rest is refused at start and audited", () => {
  const { s, audit, dir } = store();
  s.install(v1, "v1");
  const f = join(dir, "bundles", s.list()[0]!.file);
  writeFileSync(f, readFileSync(f, "utf8").replace(/"data": "[A-Za-z0-9+/]{8}/, "\"data\": \"AAAAAAAA"));
  refused(() => s.loadActive(), MODEL_ERRORS.digestMismatch);
  assert.equal(audit.last()?.type, AUDIT_EVENTS.modelRejected);
  assert.equal(audit.last()?.data.context, "start");
});

void test("nothing installed: a clear MODEL_NONE", () => {
  refused(() => store().s.loadActive(), MODEL_ERRORS.noModel);
});
