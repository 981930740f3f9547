/**
 * What went wrong with a Modbus request, as the `qualityDetail` of the readings it should have
 * produced (docs/adapters.md). Pure, so the mapping is tested without a device.
 */
export type ModbusFailure =
  | { kind: "exception"; detail: `modbus-exception:${number}`; retry: false }
  | { kind: "timeout"; detail: "modbus-timeout"; retry: true }
  | { kind: "unreachable"; detail: "modbus-unreachable"; retry: true }
  | { kind: "bad-frame"; detail: "modbus-bad-frame"; retry: true };

export function classifyModbusError(err: unknown): ModbusFailure {
  const e = (err ?? {}) as { modbusCode?: unknown; errno?: unknown; message?: unknown; code?: unknown };
  if (typeof e.modbusCode === "number") return { kind: "exception", detail: `modbus-exception:${e.modbusCode}`, retry: false };
  if (e.errno === "ETIMEDOUT" || e.message === "Timed out") return { kind: "timeout", detail: "modbus-timeout", retry: true };
  const msg = typeof e.message === "string" ? e.message : "";
  if (err instanceof RangeError || /CRC error|Data length error|Unexpected data|invalid|Illegal/i.test(msg)) {
    return { kind: "bad-frame", detail: "modbus-bad-frame", retry: true };
  }
  return { kind: "unreachable", detail: "modbus-unreachable", retry: true };
}

/** What a technician should check for each failure, for health().detail. */
export function failureHint(f: ModbusFailure): string {
  switch (f.kind) {
    case "exception":
      return `the device refused the read (${f.detail}; 2 = a register in the map does not exist on the device: check the register map)`;
    case "timeout":
      return "no answer (check the unit id, wiring/termination and serial settings)";
    case "unreachable":
      return "not connected (check the address, port or serial device and that the device is powered)";
    case "bad-frame":
      return "garbled or truncated answers (check baud rate, parity and line noise)";
  }
}
