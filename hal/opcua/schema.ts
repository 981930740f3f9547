import { Type, type Static } from "@sinclair/typebox";
import { IdT, Lit, Path, strict } from "../../kernel/config-schema.js";

/**
 * The OPC UA config fragment (`kind: opcua`, docs/config.md "OPC UA sources"); firmware/config/schema.ts
 * puts it into the gateway schema's `sources`.
 */

export const OPCUA_SECURITY_POLICIES = ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] as const;

export const OpcuaUser = Type.Union([
  Type.Object({ type: Type.Literal("anonymous") }, strict),
  Type.Object({ type: Type.Literal("username"), username: Type.String({ minLength: 1 }), passwordFile: Path }, strict),
  Type.Object({ type: Type.Literal("certificate"), certFile: Path, keyFile: Path }, strict),
]);

export const OpcuaItem = Type.Object({
  nodeId: Type.String({ minLength: 3, description: "e.g. ns=2;s=Pump1.Vibration" }),
  samplingIntervalMs: Type.Number({ minimum: -1, default: 250, description: "-1: the publishing interval" }),
  queueSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 10 }),
  discardOldest: Type.Boolean({ default: true }),
  deadband: Type.Optional(Type.Object({ type: Lit("absolute", "percent"), value: Type.Number({ minimum: 0 }) }, strict)),
}, strict);

export const OpcuaSourceConfig = Type.Object({
  id: IdT,
  kind: Type.Literal("opcua"),
  endpointUrl: Type.String({ pattern: "^opc\\.tcp://[^\\s/]+(:[0-9]{1,5})?(/\\S*)?$" }),
  securityMode: Type.Union([Type.Literal("None"), Type.Literal("Sign"), Type.Literal("SignAndEncrypt")], { default: "SignAndEncrypt" }),
  securityPolicy: Type.Union(OPCUA_SECURITY_POLICIES.map((p) => Type.Literal(p)), { default: "Basic256Sha256" }),
  /** Trust store: own/ (the gateway's application certificate), trusted/, rejected/. Default <stateDir>/pki/opcua. */
  pkiDir: Type.Optional(Path),
  /** Accept any server certificate. Development only; production needs overrides.allowTrustAll. */
  trustAll: Type.Boolean({ default: false }),
  user: Type.Unsafe<Static<typeof OpcuaUser>>({ ...OpcuaUser, default: { type: "anonymous" } }),
  applicationName: Type.String({ minLength: 1, maxLength: 64, default: "otgw" }),
  publishingIntervalMs: Type.Number({ minimum: 10, default: 1000 }),
  timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  reconnectMaxMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
  items: Type.Array(OpcuaItem, { minItems: 1 }),
}, strict);

export type OpcuaSourceConfig = Static<typeof OpcuaSourceConfig>;
export type OpcuaItemConfig = Static<typeof OpcuaItem>;
