/**
 * Gateway configs for the egress tests, shaped like the integrator's template baked into the image
 * (no identity files: the renderer must not need them). Addresses come from the caller.
 */
export interface Peers {
  /** Broker and EST server. */
  cloud: string;
  /** Plant-side Modbus TCP PLC. */
  plc: string;
  /** Plant-side OPC UA server. */
  opcua: string;
}

export const PORTS = { mqtts: 8883, est: 8443, modbus: 1502, opcua: 4840 } as const;

export function templateConfig(p: Peers, network?: Record<string, unknown>): Record<string, unknown> {
  const host = (a: string): string => (a.includes(":") ? `[${a}]` : a);
  return {
    version: 1,
    gateway: { id: "gw-egress", mode: "production", stateDir: "/var/lib/otgw" },
    identity: { keystore: "tpm", certFile: "/var/lib/otgw/identity/gateway.cert.pem", caFile: "/var/lib/otgw/identity/fleet-ca.cert.pem", est: { url: `https://${host(p.cloud)}:${PORTS.est}` } },
    receiver: { publicKeyFile: "/etc/otgw/receiver.pub.pem" },
    uplink: { url: `mqtts://${host(p.cloud)}:${PORTS.mqtts}`, caFile: "/etc/otgw/broker-ca.cert.pem" },
    streams: [{ id: "telemetry", priority: 2, valueSchema: { type: "number" } }],
    transforms: [{ id: "raw", unit: "1" }],
    sources: [
      { id: "plc1", kind: "modbus-tcp", host: p.plc, port: PORTS.modbus, devices: [{ unitId: 1, registers: [{ table: "hr", register: 0 }] }] },
      { id: "press1", kind: "opcua", endpointUrl: `opc.tcp://${host(p.opcua)}:${PORTS.opcua}/UA`, items: [{ nodeId: "ns=2;s=X" }] },
      { id: "meter", kind: "modbus-rtu", device: "/dev/ttyUSB0", devices: [{ unitId: 2, registers: [{ table: "ir", register: 0 }] }] },
    ],
    points: [{ name: "p", source: "plc1", address: "1/hr/0", stream: "telemetry", transform: "raw", deviceId: "plc1" }],
    ...(network ? { network } : {}),
  };
}
