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
  /** The fleet's EST server (renewal, rotation, CRL); its certificate chains to caFile (docs/identity.md). */
  est: Type.Optional(Type.Object({ url: Type.String({ pattern: "^https://\\S+$" }) }, strict)),
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
  /** Bound on the payload bytes of waiting frames; past it the least urgent, oldest data is dropped (docs/queue.md). */
  maxBytes: Type.Integer({ minimum: 65_536, default: 64 * 1024 * 1024 }),
  /** normal: a power cut may lose the last commits (never corrupts); full: fsync per commit (docs/queue.md). */
  durability: Type.Union([Type.Literal("normal"), Type.Literal("full")], { default: "normal" }),
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

const Lit = <T extends string>(...xs: T[]) => Type.Union(xs.map((x) => Type.Literal(x)));

/** One register-map entry of a Modbus device (docs/config.md "Modbus sources"). */
export const ModbusRegister = Type.Object({
  /** co coil, di discrete input, hr holding register, ir input register. */
  table: Lit("co", "di", "hr", "ir"),
  /** 0-based protocol address (mbpoll -r is this + 1 unless -0). */
  register: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** Register tables only (default uint16); coils and discrete inputs are booleans. */
  type: Type.Optional(Lit("int16", "uint16", "int32", "uint32", "float32", "float64")),
  /** Byte order inside each register (default big, as on the wire). */
  byteOrder: Type.Optional(Lit("big", "little")),
  /** Order of the registers of a multi-register value (default big: high word first). */
  wordOrder: Type.Optional(Lit("big", "little")),
}, strict);

export const ModbusDevice = Type.Object({
  unitId: Type.Integer({ minimum: 0, maximum: 255 }),
  pollMs: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 1000 }),
  registers: Type.Array(ModbusRegister, { minItems: 1 }),
}, strict);

const modbusCommon = {
  id: IdT,
  timeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
  retries: Type.Integer({ minimum: 0, maximum: 10, default: 1 }),
  retryDelayMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 100 }),
  backoffMaxMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 60_000 }),
  maxGap: Type.Integer({ minimum: 0, maximum: 100, default: 0 }),
  devices: Type.Array(ModbusDevice, { minItems: 1 }),
};

export const ModbusTcpSourceConfig = Type.Object({
  ...modbusCommon,
  kind: Type.Literal("modbus-tcp"),
  host: Type.String({ minLength: 1, pattern: "^[^\\s/]+$" }),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 502 }),
}, strict);

export const ModbusRtuSourceConfig = Type.Object({
  ...modbusCommon,
  kind: Type.Literal("modbus-rtu"),
  /** Serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/... */
  device: Type.String({ pattern: "^/" }),
  baudRate: Type.Integer({ minimum: 300, maximum: 921_600, default: 19200 }),
  /** Modbus over serial line spec default: even. */
  parity: Type.Union([Type.Literal("none"), Type.Literal("even"), Type.Literal("odd")], { default: "even" }),
  dataBits: Type.Union([Type.Literal(7), Type.Literal(8)], { default: 8 }),
  stopBits: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 1 }),
}, strict);

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

export const GpioLine = Type.Object({
  /** Line number as the backend numbers it (onoff: the kernel's sysfs GPIO number). */
  line: Type.Integer({ minimum: 0, maximum: 4095 }),
  edge: Type.Union([Type.Literal("rising"), Type.Literal("falling"), Type.Literal("both")], { default: "both" }),
  debounceMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 20 }),
  activeLow: Type.Boolean({ default: false }),
  /** An enclosure tamper switch: every change is also an audit event (docs/adapters.md). */
  tamper: Type.Boolean({ default: false }),
}, strict);

export const GpioSourceConfig = Type.Object({
  id: IdT,
  kind: Type.Literal("gpio"),
  /** Required on purpose: the fake backend is never chosen silently. */
  backend: Type.Union([Type.Literal("onoff"), Type.Literal("fake")]),
  chip: Type.String({ pattern: "^[A-Za-z0-9_-]{1,32}$", default: "gpiochip0" }),
  lines: Type.Array(GpioLine, { minItems: 1 }),
}, strict);

/**
 * Sources are a union discriminated by `kind`.
 * Ajv's `discriminator` keyword makes errors name only the branch the file chose.
 */
export const SourceConfig = Type.Unsafe<
  Static<typeof SimSourceConfig> | Static<typeof ModbusTcpSourceConfig> | Static<typeof ModbusRtuSourceConfig> |
  Static<typeof OpcuaSourceConfig> | Static<typeof GpioSourceConfig>
>({
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
export type SimSourceConfig = Static<typeof SimSourceConfig>;
export type SimAsset = Static<typeof SimAsset>;
export type ModbusTcpSourceConfig = Static<typeof ModbusTcpSourceConfig>;
export type ModbusRtuSourceConfig = Static<typeof ModbusRtuSourceConfig>;
export type ModbusDeviceConfig = Static<typeof ModbusDevice>;
export type OpcuaSourceConfig = Static<typeof OpcuaSourceConfig>;
export type OpcuaItemConfig = Static<typeof OpcuaItem>;
export type GpioSourceConfig = Static<typeof GpioSourceConfig>;
export type GpioLineConfig = Static<typeof GpioLine>;
export type SimFault = Static<typeof SimFault>;
export type SimAssetKind = (typeof SIM_ASSET_KINDS)[number];
export type SimSignal = (typeof SIM_SIGNALS)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];
export type OverrideName = keyof Static<typeof Overrides>;
export type ModelsConfig = Static<typeof ModelsSection>;
export type NetworkConfig = Static<typeof NetworkSection>;
