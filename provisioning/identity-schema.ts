import { Type, type Static } from "@sinclair/typebox";
import { Path, strict } from "../kernel/config-schema.js";

/**
 * The `identity` section of the gateway config (docs/config.md, docs/identity.md); firmware/config/schema.ts
 * puts it into the gateway schema.
 */
export const IdentitySection = Type.Object({
  keystore: Type.Union([Type.Literal("software"), Type.Literal("tpm")]),
  keyName: Type.String({ pattern: "^[A-Za-z0-9._-]+$", default: "gateway" }),
  /** Software keystore only; defaults to <stateDir>/keys when omitted. */
  keyDir: Type.Optional(Path),
  certFile: Path,
  caFile: Path,
  tpm: Type.Optional(Type.Object({ tcti: Type.String({ minLength: 1, default: "device:/dev/tpmrm0" }) }, strict)),
  /** The fleet's EST server (renewal, rotation, CRL); its certificate chains to caFile (docs/identity.md). */
  est: Type.Optional(Type.Object({ url: Type.String({ pattern: "^https://\\S+$" }) }, strict)),
  /** Automatic renewal of a running gateway through identity.est (docs/identity.md "Rotation of a running gateway"). */
  renewal: Type.Object({
    /** Renew once this fraction of the certificate's lifetime has passed. */
    at: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.66 }),
    /** renew: new certificate, same TPM key; rotate: a new attested TPM key every time. */
    mode: Type.Union([Type.Literal("renew"), Type.Literal("rotate")], { default: "renew" }),
    /** How often the identity files and the certificate's age are checked (ms). */
    checkEveryMs: Type.Integer({ minimum: 50, default: 10_000 }),
  }, { ...strict, default: {} }),
}, strict);

/** The identity section as loaded: defaults filled in, paths resolved. */
export type IdentityConfig = Static<typeof IdentitySection>;
