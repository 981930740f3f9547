import type { GpioSourceConfig } from "./gpio/schema.js";
import type { ModbusRtuSourceConfig, ModbusTcpSourceConfig } from "./modbus/schema.js";
import type { OpcuaSourceConfig } from "./opcua/schema.js";
import type { SimSourceConfig } from "./sim/schema.js";

/**
 * What the sources share in the config. Each adapter owns its fragment (hal/<adapter>/schema.ts);
 * firmware/config/schema.ts composes them into the gateway schema's `sources`, a union discriminated by `kind`.
 */

/** One configured source, of any kind; `kind` says which. */
export type SourceConfig = SimSourceConfig | ModbusTcpSourceConfig | ModbusRtuSourceConfig | OpcuaSourceConfig | GpioSourceConfig;

/**
 * The parts of the gateway config that building sources reads: the sources, and the state directory
 * (default home of OPC UA trust stores). A loaded GatewayConfig has this shape, so callers pass it whole.
 */
export interface SourcesConfig {
  gateway: { stateDir: string };
  sources: readonly SourceConfig[];
}
