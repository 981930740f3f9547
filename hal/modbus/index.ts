/** Modbus TCP and RTU (docs/adapters.md, URIs in docs/records.md). modbus-serial loads only on connect. */
import type { Clock } from "../../kernel/clock.js";
import type { Logger } from "../../kernel/log.js";
import type { Scheduler } from "../../kernel/scheduler.js";
import type { ModbusRtuSourceConfig, ModbusTcpSourceConfig } from "./schema.js";
import { ModbusSource } from "./source.js";
import { connectRtu, connectTcp } from "./transport.js";

export { ModbusSource, type ModbusSourceOptions, type ModbusDeviceOptions } from "./source.js";
export { decodeRegisters, encodeRegisters, decodeBit, registerCount, type RegisterType, type ByteOrder, type Table } from "./decode.js";
export { planRequests, decodeResponse, modbusAddress, parseModbusAddress, type RegisterSpec, type ReadRequest } from "./plan.js";
export { classifyModbusError, type ModbusFailure } from "./quality.js";
export { connectTcp, connectRtu, type ModbusClient, type SerialSettings } from "./transport.js";

const common = (sc: ModbusTcpSourceConfig | ModbusRtuSourceConfig) => ({
  id: sc.id, devices: sc.devices, retries: sc.retries, retryDelayMs: sc.retryDelayMs, backoffMaxMs: sc.backoffMaxMs, maxGap: sc.maxGap,
});

/** `modbus+tcp://host:port` (IPv6 literals in brackets). */
export function tcpUriBase(host: string, port: number): string {
  return `modbus+tcp://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** `modbus+rtu://<device>?baud=<n>`, e.g. `modbus+rtu:///dev/ttyUSB0?baud=19200`. */
export function rtuUriBase(device: string, baudRate: number): string {
  return `modbus+rtu://${device}?baud=${baudRate}`;
}

/** A Modbus TCP source from its config; `scheduler` runs the poll and retry timers (default: the system's). */
export function createModbusTcpSource(sc: ModbusTcpSourceConfig, clock: Clock, logger: Logger, scheduler?: Scheduler): ModbusSource {
  return new ModbusSource({
    ...common(sc), adapter: "modbus-tcp", uriBase: tcpUriBase(sc.host, sc.port), serialBus: false, scheduler,
    connect: () => connectTcp(sc.host, sc.port, sc.timeoutMs),
  }, clock, logger);
}

/** A Modbus RTU source from its config; `scheduler` runs the poll and retry timers (default: the system's). */
export function createModbusRtuSource(sc: ModbusRtuSourceConfig, clock: Clock, logger: Logger, scheduler?: Scheduler): ModbusSource {
  const serial = { baudRate: sc.baudRate, parity: sc.parity, dataBits: sc.dataBits, stopBits: sc.stopBits };
  return new ModbusSource({
    ...common(sc), adapter: "modbus-rtu", uriBase: rtuUriBase(sc.device, sc.baudRate), serialBus: true, scheduler,
    connect: () => connectRtu(sc.device, serial, sc.timeoutMs),
  }, clock, logger);
}
