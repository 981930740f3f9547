import { Type, type Static } from "@sinclair/typebox";

/**
 * The gateway config file as a schema. The TypeScript types are derived from it (`Static<>`), so the
 * validator and the code cannot drift (STYLE 5). Every field is documented in docs/config.md.
 *
 * Fields with a `default` are listed as required: Ajv (`useDefaults`) fills them in before `required`
 * is checked, so they may be omitted in the file but are always present in the loaded config.
 */

const strict = { additionalProperties: false } as const;
const IdT = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" });
const Path = Type.String({ minLength: 1 });
const Reason = Type.Object({ reason: Type.String({ minLength: 3, description: "why the escape hatch is needed; written to the audit log" }) }, strict);

export const GatewaySection = Type.Object({
  id: IdT,
  mode: Type.Union([Type.Literal("development"), Type.Literal("production")]),
  stateDir: Path,
  site: Type.Optional(Type.String()),
}, strict);

export const IdentitySection = Type.Object({
  keystore: Type.Union([Type.Literal("software"), Type.Literal("tpm")]),
  keyName: Type.String({ pattern: "^[A-Za-z0-9._-]+$", default: "gateway" }),
  /** Software keystore only; defaults to <stateDir>/keys when omitted. */
  keyDir: Type.Optional(Path),
  certFile: Path,
  caFile: Path,
  tpm: Type.Optional(Type.Object({ tcti: Type.String({ minLength: 1, default: "device:/dev/tpmrm0" }) }, strict)),
}, strict);

export const ReceiverSection = Type.Object({ publicKeyFile: Path }, strict);

export const UplinkSection = Type.Object({
  url: Type.String({ pattern: "^mqtts?://[^\\s/]+(:[0-9]{1,5})?/?$" }),
  caFile: Path,
  window: Type.Integer({ minimum: 1, maximum: 65535, default: 256 }),
  reconnectMinMs: Type.Integer({ minimum: 10, default: 1000 }),
  reconnectMaxMs: Type.Integer({ minimum: 10, default: 60000 }),
}, strict);

export const EnvelopeSection = Type.Object({
  checkpointEveryMessages: Type.Integer({ minimum: 1, default: 1000 }),
  checkpointEveryMs: Type.Integer({ minimum: 100, default: 5000 }),
  sessionMaxMessages: Type.Integer({ minimum: 1, default: 1_000_000 }),
}, strict);

export const QueueSection = Type.Object({
  maxBytes: Type.Integer({ minimum: 65_536, default: 64 * 1024 * 1024 }),
}, strict);

export const AuditSection = Type.Object({
  checkpointEveryEntries: Type.Integer({ minimum: 1, maximum: 100_000, default: 100 }),
}, strict);

export const StreamConfig = Type.Object({
  id: IdT,
  /** Smaller is more urgent (0 = alarms); the queue sends higher-priority streams first. */
  priority: Type.Integer({ minimum: 0, maximum: 9 }),
  /** JSON Schema for the record's value, compiled with Ajv at load time. */
  valueSchema: Type.Record(Type.String(), Type.Unknown()),
}, strict);

export const TransformRule = Type.Object({
  id: IdT,
  scale: Type.Number({ default: 1 }),
  offset: Type.Number({ default: 0 }),
  unit: Type.String({ minLength: 1, maxLength: 32 }),
}, strict);

export const SIM_ASSET_KINDS = ["motor", "pump", "compressor"] as const;
export const SIM_SIGNALS = ["vibration_rms", "bearing_temp", "motor_current", "discharge_pressure"] as const;
export const FAULT_KINDS = ["drift", "spike", "stuck", "dropout"] as const;

const AssetKind = Type.Union([Type.Literal("motor"), Type.Literal("pump"), Type.Literal("compressor")]);
const Signal = Type.Union([
  Type.Literal("vibration_rms"), Type.Literal("bearing_temp"), Type.Literal("motor_current"), Type.Literal("discharge_pressure"),
]);
const FaultKind = Type.Union([Type.Literal("drift"), Type.Literal("spike"), Type.Literal("stuck"), Type.Literal("dropout")]);

export const SimAsset = Type.Object({ id: IdT, kind: AssetKind }, strict);

export const SimFault = Type.Object({
  asset: IdT,
  signal: Signal,
  kind: FaultKind,
  /** Seconds after the source first starts (or after the generator's start time). */
  startS: Type.Number({ minimum: 0 }),
  durationS: Type.Number({ exclusiveMinimum: 0 }),
  /** drift: signal units per second; spike: signal units added; stuck/dropout: unused. */
  magnitude: Type.Number({ default: 0 }),
}, strict);

export const SimSourceConfig = Type.Object({
  id: IdT,
  kind: Type.Literal("sim"),
  seed: Type.Integer({ minimum: 0, maximum: 0xffffffff }),
  rateHz: Type.Number({ exclusiveMinimum: 0, maximum: 1000, default: 1 }),
  assets: Type.Array(SimAsset, { minItems: 1 }),
  faults: Type.Array(SimFault, { default: [] }),
}, strict);

/**
 * Sources are a union discriminated by `kind`; OPC UA, Modbus and GPIO join it as their adapters land.
 * Ajv's `discriminator` keyword makes errors name only the branch the file chose.
 */
export const SourceConfig = Type.Unsafe<Static<typeof SimSourceConfig>>({
  type: "object",
  discriminator: { propertyName: "kind" },
  oneOf: [SimSourceConfig],
});

export const PointConfig = Type.Object({
  name: Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$" }),
  source: IdT,
  address: Type.String({ minLength: 1 }),
  stream: IdT,
  transform: IdT,
  deviceId: Type.String({ minLength: 1 }),
  calibrationId: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
}, strict);

export const Overrides = Type.Object({
  allowSoftwareKeys: Type.Optional(Reason),
  allowTrustAll: Type.Optional(Reason),
  allowSecurityNone: Type.Optional(Reason),
}, strict);

export const ConfigSchema = Type.Object({
  version: Type.Literal(1),
  gateway: GatewaySection,
  identity: IdentitySection,
  receiver: ReceiverSection,
  uplink: UplinkSection,
  envelope: Type.Object(EnvelopeSection.properties, { ...strict, default: {} }),
  queue: Type.Object(QueueSection.properties, { ...strict, default: {} }),
  audit: Type.Object(AuditSection.properties, { ...strict, default: {} }),
  streams: Type.Array(StreamConfig, { minItems: 1 }),
  transforms: Type.Array(TransformRule, { minItems: 1 }),
  sources: Type.Array(SourceConfig, { minItems: 1 }),
  points: Type.Array(PointConfig, { minItems: 1 }),
  overrides: Type.Object(Overrides.properties, { ...strict, default: {} }),
}, strict);

/** The config as loaded: defaults filled in, relative paths resolved against the file's directory. */
export type GatewayConfig = Static<typeof ConfigSchema>;
export type StreamConfig = Static<typeof StreamConfig>;
export type TransformRule = Static<typeof TransformRule>;
export type PointConfig = Static<typeof PointConfig>;
export type SourceConfig = Static<typeof SourceConfig>;
export type SimSourceConfig = Static<typeof SimSourceConfig>;
export type SimAsset = Static<typeof SimAsset>;
export type SimFault = Static<typeof SimFault>;
export type SimAssetKind = (typeof SIM_ASSET_KINDS)[number];
export type SimSignal = (typeof SIM_SIGNALS)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];
export type OverrideName = keyof Static<typeof Overrides>;
