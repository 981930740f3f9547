import { Type, type Static } from "@sinclair/typebox";
import { IdT, Lit, strict } from "../../kernel/config-schema.js";

/**
 * The Modbus config fragments (`kind: modbus-tcp` | `modbus-rtu`, docs/config.md "Modbus sources");
 * firmware/config/schema.ts puts them into the gateway schema's `sources`.
 */

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

export type ModbusTcpSourceConfig = Static<typeof ModbusTcpSourceConfig>;
export type ModbusRtuSourceConfig = Static<typeof ModbusRtuSourceConfig>;
export type ModbusDeviceConfig = Static<typeof ModbusDevice>;
