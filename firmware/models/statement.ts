import { Type, type Static } from "@sinclair/typebox";

/** in-toto Statement v1 (in-toto/attestation spec), the payload of a model bundle's DSSE envelope. */
export const IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
/** DSSE payloadType of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
/** Our predicate: the model's version and provenance (docs/model-bundle.md). */
export const MODEL_PREDICATE_TYPE = "urn:otgw:predicate:model-bundle:v1";

const strict = { additionalProperties: false } as const;
const Hex64 = Type.String({ pattern: "^[0-9a-f]{64}$" });
const Text = Type.String({ minLength: 1, maxLength: 256 });

export const ModelPredicate = Type.Object({
  model: Type.Object({
    name: Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" }),
    /** The artefact kind, which decides the scorer (only "otgw.robust-residual/1" so far). */
    kind: Text,
    /** Monotonic release number; anti-rollback compares these. */
    version: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
  }, strict),
  /** The data sets the model was trained on, each by content hash. */
  datasets: Type.Array(Type.Object({ name: Text, digest: Type.Object({ sha256: Hex64 }, strict), description: Type.Optional(Text) }, strict), { minItems: 1 }),
  /** What the model reads: one entry per input point, with its unit and how it is summarized. */
  features: Type.Array(Type.Object({ point: Text, unit: Text, definition: Text }, strict), { minItems: 1 }),
  training: Type.Object({
    jobId: Text,
    codeCommit: Type.String({ pattern: "^[0-9a-f]{7,64}$|^unknown$" }),
    createdAt: Type.String({ format: "date-time", minLength: 20, maxLength: 40 }),
    parameters: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean()])),
  }, strict),
  /** Who signed off on the release (the signature proves the registry key, these say who decided). */
  approvals: Type.Array(Type.Object({ by: Text, role: Text, at: Type.String({ minLength: 20, maxLength: 40 }) }, strict)),
}, strict);

export const ModelStatement = Type.Object({
  _type: Type.Literal(IN_TOTO_STATEMENT_TYPE),
  subject: Type.Array(Type.Object({ name: Text, digest: Type.Object({ sha256: Hex64 }) }), { minItems: 1, maxItems: 1 }),
  predicateType: Type.Literal(MODEL_PREDICATE_TYPE),
  predicate: ModelPredicate,
}, strict);

export type ModelPredicate = Static<typeof ModelPredicate>;
export type ModelStatement = Static<typeof ModelStatement>;
