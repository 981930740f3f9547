import { Type, type Static } from "@sinclair/typebox";
import { IdT, Path, strict } from "../../kernel/config-schema.js";
import type { SourceConfig as HalSourceConfig } from "../../hal/schema.js";
import { GpioSourceConfig } from "../../hal/gpio/schema.js";
import { ModbusRtuSourceConfig, ModbusTcpSourceConfig } from "../../hal/modbus/schema.js";
import { OpcuaSourceConfig } from "../../hal/opcua/schema.js";
import { SimSourceConfig } from "../../hal/sim/schema.js";
import { IdentitySection } from "../../provisioning/identity-schema.js";

// Each adapter and the identity own their fragment (docs/config.md "Where the schema lives"); they are
// re-exported here so importers of the gateway config need not know where each one lives.
export { SIM_ASSET_KINDS, SIM_SIGNALS, FAULT_KINDS, SimAsset, SimFault, SimSourceConfig } from "../../hal/sim/schema.js";
export type { SimAssetKind, SimSignal, FaultKind } from "../../hal/sim/schema.js";
export { ModbusRegister, ModbusDevice, ModbusTcpSourceConfig, ModbusRtuSourceConfig } from "../../hal/modbus/schema.js";
export type { ModbusDeviceConfig } from "../../hal/modbus/schema.js";
export { OPCUA_SECURITY_POLICIES, OpcuaUser, OpcuaItem, OpcuaSourceConfig } from "../../hal/opcua/schema.js";
export type { OpcuaItemConfig } from "../../hal/opcua/schema.js";
export { GpioLine, GpioSourceConfig } from "../../hal/gpio/schema.js";
export type { GpioLineConfig } from "../../hal/gpio/schema.js";
export { IdentitySection, type IdentityConfig } from "../../provisioning/identity-schema.js";

/**
 * The gateway config file as a schema. The TypeScript types are derived from it (`Static<>`), so the
 * validator and the code cannot drift (STYLE 5). Every field is documented in docs/config.md.
 *
 * Fields with a `default` are listed as required: Ajv (`useDefaults`) fills them in before `required`
 * is checked, so they may be omitted in the file but are always present in the loaded config.
 */

const Reason = Type.Object({ reason: Type.String({ minLength: 3, description: "why the escape hatch is needed; written to the audit log" }) }, strict);

export const GatewaySection = Type.Object({
  id: IdT,
  mode: Type.Union([Type.Literal("development"), Type.Literal("production")]),
  stateDir: Path,
  site: Type.Optional(Type.String()),
}, strict);

export const ReceiverSection = Type.Object({ publicKeyFile: Path }, strict);

export const UplinkSection = Type.Object({
  url: Type.String({ pattern: "^mqtts?://[^\\s/]+(:[0-9]{1,5})?/?$" }),
  caFile: Path,
  window: Type.Integer({ minimum: 1, maximum: 65535, default: 256 }),
  reconnectMinMs: Type.Integer({ minimum: 10, default: 1000 }),
  reconnectMaxMs: Type.Integer({ minimum: 10, default: 60000 }),
  /**
   * `required` (default): a frame leaves the queue only when the receiver's authenticated receipt
   * covers it, so a broker that loses acknowledged messages (SIGKILL, power cut) loses nothing.
   * `off`: the broker's PUBACK frees it, for receivers that send no receipts (docs/queue.md).
   */
  receipts: Type.Union([Type.Literal("required"), Type.Literal("off")], { default: "required" }),
  /** A sent frame with no receipt after this long is sent again. */
  receiptResendMs: Type.Integer({ minimum: 100, default: 10000 }),
  /**
   * The fleet's partition count P when its receivers run as a partitioned tier: frames then travel on
   * `otgw/v2/{partitionOf(gateway.id, P)}/{gateway.id}/{stream}`; absent, on `otgw/v1/…` (docs/topics.md).
   * Fixed per fleet: every gateway and receiver of the fleet must have the same P.
   */
  partitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
}, strict);

export const EnvelopeSection = Type.Object({
  checkpointEveryMessages: Type.Integer({ minimum: 1, default: 1000 }),
  checkpointEveryMs: Type.Integer({ minimum: 100, default: 5000 }),
  sessionMaxMessages: Type.Integer({ minimum: 1, default: 1_000_000 }),
}, strict);

export const QueueSection = Type.Object({
  /** Bound on the payload bytes of waiting frames; past it the least urgent, oldest data is dropped (docs/queue.md). */
  maxBytes: Type.Integer({ minimum: 65_536, default: 64 * 1024 * 1024 }),
  /** normal: a power cut may lose the last commits (never corrupts); full: fsync per commit (docs/queue.md). */
  durability: Type.Union([Type.Literal("normal"), Type.Literal("full")], { default: "normal" }),
  /** Free space kept on the queue's filesystem; below it the queue drops by policy instead of growing (docs/queue.md). */
  minFreeBytes: Type.Integer({ minimum: 0, default: 8 * 1024 * 1024 }),
  /** Ballast file released when the disk is full anyway, so acks and drops can still commit (docs/queue.md). */
  reserveBytes: Type.Integer({ minimum: 0, default: 2 * 1024 * 1024 }),
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
  /**
   * Decimal places the numeric result is rounded to after scale and offset (half away from zero), so
   * `1243 × 0.1` is 124.3, not 124.30000000000001. Absent: no rounding (no default, see docs/config.md).
   */
  decimals: Type.Optional(Type.Integer({ minimum: 0, maximum: 15 })),
  unit: Type.String({ minLength: 1, maxLength: 32 }),
}, strict);

/**
 * Sources are a union discriminated by `kind`.
 * Ajv's `discriminator` keyword makes errors name only the branch the file chose.
 */
export const SourceConfig = Type.Unsafe<HalSourceConfig>({
  type: "object",
  discriminator: { propertyName: "kind" },
  oneOf: [SimSourceConfig, ModbusTcpSourceConfig, ModbusRtuSourceConfig, OpcuaSourceConfig, GpioSourceConfig],
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

/** Edge models (docs/model-bundle.md): who may sign them, where they live, the rollback escape hatch. */
export const ModelsSection = Type.Object({
  /** Installed bundles and the active-model state; default <stateDir>/models. */
  dir: Type.Optional(Path),
  /** Public keys (SPKI PEM, ECDSA P-256) whose signatures on a bundle are accepted. */
  trustedSigners: Type.Array(Type.Object({ name: IdT, publicKeyFile: Path }, strict), { minItems: 1 }),
  /** Queue priority of the "predictions" stream (smaller = more urgent). */
  priority: Type.Integer({ minimum: 0, maximum: 9, default: 0 }),
  /** Allow installing a lower model version than the highest accepted; each use is audited. */
  allowRollback: Type.Optional(Reason),
}, strict);

/**
 * What the nftables allowlist needs beyond the endpoints already in the config (docs/egress.md).
 * Addresses are checked as IP literals by the egress renderer (firmware/egress/endpoints.ts).
 */
export const NetworkSection = Type.Object({
  /** DNS servers (IP addresses) the gateway may query on port 53; absent: no DNS at all. */
  dns: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  /** NTP servers (IP addresses); absent: udp/123 to any address (pool servers rotate). */
  ntp: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  /** Pinned addresses of the host names used in uplink.url, identity.est.url and sources. */
  hosts: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }))),
  /** Admit DHCP (v4 and v6) so the box can get its address. */
  dhcp: Type.Boolean({ default: true }),
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
  models: Type.Optional(ModelsSection),
  network: Type.Optional(NetworkSection),
}, strict);

/** The config as loaded: defaults filled in, relative paths resolved against the file's directory. */
export type GatewayConfig = Static<typeof ConfigSchema>;
export type StreamConfig = Static<typeof StreamConfig>;
export type TransformRule = Static<typeof TransformRule>;
export type PointConfig = Static<typeof PointConfig>;
export type SourceConfig = Static<typeof SourceConfig>;
export type OverrideName = keyof Static<typeof Overrides>;
export type ModelsConfig = Static<typeof ModelsSection>;
export type NetworkConfig = Static<typeof NetworkSection>;
