import { createHash, type KeyObject } from "node:crypto";
import { Type, type Static } from "@sinclair/typebox";
import { Ajv, type ValidateFunction } from "ajv";
import { canonicalJson } from "../pipeline/canonical.js";
import { signEnvelope, verifyEnvelope, type TrustedKey } from "./dsse.js";
import { MODEL_ERRORS, ModelError } from "./errors.js";
import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPE, MODEL_PREDICATE_TYPE, ModelStatement, type ModelPredicate } from "./statement.js";

/** Media type of a bundle file (docs/model-bundle.md). */
export const BUNDLE_MEDIA_TYPE = "application/vnd.otgw.model-bundle.v1+json";

const B64 = Type.String({ pattern: "^[A-Za-z0-9+/]*={0,2}$" });
export const BundleFile = Type.Object({
  mediaType: Type.Literal(BUNDLE_MEDIA_TYPE),
  artefact: Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }), mediaType: Type.String({ minLength: 1 }), data: B64 }, { additionalProperties: false }),
  dsseEnvelope: Type.Object({
    payloadType: Type.String(),
    payload: B64,
    signatures: Type.Array(Type.Object({ keyid: Type.String(), sig: B64 }, { additionalProperties: false })),
  }, { additionalProperties: false }),
}, { additionalProperties: false });
export type BundleFile = Static<typeof BundleFile>;

const ajv = new Ajv({ allErrors: false, strict: true, validateFormats: false });
const validateBundle: ValidateFunction<BundleFile> = ajv.compile<BundleFile>(BundleFile);
const validateStatement: ValidateFunction<ModelStatement> = ajv.compile<ModelStatement>(ModelStatement);

/** A bundle whose signature, signer and digest all checked out. */
export interface VerifiedBundle {
  /** SHA-256 hex of the artefact bytes (= the statement's subject digest). */
  digest: string;
  version: number;
  name: string;
  kind: string;
  predicate: ModelPredicate;
  artefact: Buffer;
  artefactMediaType: string;
  signer: { name: string; keyid: string };
  /** SHA-256 hex of the bundle file's bytes, for audit events. */
  bundleSha256: string;
}

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Registry side: wraps an artefact and its provenance into a signed bundle. The statement is
 * canonical JSON, so the same inputs always give the same payload bytes.
 */
export function createBundle(artefact: Buffer, artefactName: string, artefactMediaType: string, predicate: ModelPredicate, signingKey: KeyObject): Buffer {
  const statement: ModelStatement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: artefactName, digest: { sha256: sha256(artefact) } }],
    predicateType: MODEL_PREDICATE_TYPE,
    predicate,
  };
  if (!validateStatement(statement)) throw new ModelError(MODEL_ERRORS.malformed, `statement ${describe(validateStatement)}`);
  const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(statement), "utf8"), signingKey);
  const file: BundleFile = { mediaType: BUNDLE_MEDIA_TYPE, artefact: { name: artefactName, mediaType: artefactMediaType, data: artefact.toString("base64") }, dsseEnvelope: envelope };
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`, "utf8");
}

/**
 * Checks, in order: bundle shape, signature present, signer trusted, signature valid, statement shape,
 * artefact digest = subject digest. Throws a ModelError whose code names the first failure.
 * Anti-rollback is the installer's job (it knows what is installed).
 */
export function verifyBundle(bytes: Buffer, trusted: readonly TrustedKey[]): VerifiedBundle {
  const bundleSha256 = sha256(bytes);
  let file: unknown;
  try {
    file = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new ModelError(MODEL_ERRORS.malformed, "model bundle is not JSON: is this an otgw model bundle (`otgw model sign` output)?");
  }
  if (!validateBundle(file)) throw new ModelError(MODEL_ERRORS.malformed, `model bundle ${describe(validateBundle)}`);
  const { payload, signer } = verifyEnvelope(file.dsseEnvelope, trusted);
  if (file.dsseEnvelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new ModelError(MODEL_ERRORS.malformed, `envelope payloadType must be ${IN_TOTO_PAYLOAD_TYPE}`);
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new ModelError(MODEL_ERRORS.malformed, "signed payload is not JSON");
  }
  if (!validateStatement(statement)) throw new ModelError(MODEL_ERRORS.malformed, `signed statement ${describe(validateStatement)}`);
  const artefact = Buffer.from(file.artefact.data, "base64");
  const digest = sha256(artefact);
  const subject = statement.subject[0];
  if (subject?.digest.sha256 !== digest) {
    throw new ModelError(MODEL_ERRORS.digestMismatch, `model artefact SHA-256 ${digest.slice(0, 16)}… differs from the signed digest ${subject?.digest.sha256.slice(0, 16) ?? "?"}…: the artefact was altered; get the bundle again from the registry`);
  }
  const p = statement.predicate;
  return {
    digest, version: p.model.version, name: p.model.name, kind: p.model.kind, predicate: p, artefact,
    artefactMediaType: file.artefact.mediaType, signer: { name: signer.name, keyid: signer.keyid }, bundleSha256,
  };
}

function describe(v: ValidateFunction): string {
  const e = v.errors?.[0];
  return `${e?.instancePath || "/"}: ${e?.message ?? "invalid"}`;
}
