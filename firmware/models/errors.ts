import { GatewayError } from "../../kernel/errors.js";

/**
 * Why a model bundle was refused. Each refusal path has its own stable code (and audit event data),
 * so an operator can tell an unsigned bundle from a forged one from a replayed old one.
 */
export const MODEL_ERRORS = {
  /** Not a bundle: bad JSON, wrong shape, wrong payload type or statement shape. */
  malformed: "MODEL_MALFORMED",
  /** The DSSE envelope carries no signature at all. */
  unsigned: "MODEL_UNSIGNED",
  /** No signature names (by keyid) a signer this gateway trusts. */
  untrustedSigner: "MODEL_UNTRUSTED_SIGNER",
  /** A signature names a trusted key but does not verify: the statement was altered or forged. */
  badSignature: "MODEL_SIGNATURE_INVALID",
  /** The artefact's SHA-256 differs from the signed statement's subject: the model file was altered. */
  digestMismatch: "MODEL_DIGEST_MISMATCH",
  /** The version is lower than the highest one installed, and the config does not allow rollback. */
  rollback: "MODEL_ROLLBACK",
  /** The version equals one already installed but the artefact differs: versions are never reused. */
  versionReused: "MODEL_VERSION_REUSED",
  /** The artefact is signed and intact but is not a model this gateway can run. */
  unsupported: "MODEL_UNSUPPORTED",
  /** Training data cannot make a model: too few healthy windows, a missing load point, no sim source. */
  trainingData: "MODEL_TRAINING_DATA",
  /** Nothing is installed (or the model store cannot be read). */
  noModel: "MODEL_NONE",
} as const;

export type ModelErrorCode = (typeof MODEL_ERRORS)[keyof typeof MODEL_ERRORS];

/** A model bundle was refused or the model store is unusable; `code` is one of MODEL_ERRORS. */
export class ModelError extends GatewayError {
  declare readonly code: ModelErrorCode;
  constructor(code: ModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
