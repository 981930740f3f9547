import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkConfigFile } from "../../firmware/config/index.js";
import { repoRoot } from "../../kernel/paths.js";
import { fieldConfigProblems, pointsFor } from "../../devkit/dev-plant/field-config.js";

const ua = (over: Record<string, unknown> = {}) => ({ id: "ua", kind: "opcua", endpointUrl: "opc.tcp://10.0.0.5:4840", items: [{ nodeId: "ns=2;s=A" }], ...over });
const uaPoints = pointsFor("ua", ["ns=2;s=A"]);

void test("the mixed-plant example validates", () => {
  assert.deepEqual(checkConfigFile(join(repoRoot(), "config", "examples", "plant-mixed.yaml")).problems, []);
});

void test("production refuses OPC UA security None and trust-all unless an override carries a reason", () => {
  const prod = { mode: "production" as const, keystore: "tpm" as const, points: uaPoints };
  const none = fieldConfigProblems({ ...prod, sources: [ua({ securityMode: "None", securityPolicy: "None" })] });
  assert.ok(none.some((p) => p.startsWith("/sources/0/securityMode: production mode refuses OPC UA security mode None")), none.join("\n"));
  const all = fieldConfigProblems({ ...prod, sources: [ua({ trustAll: true })] });
  assert.ok(all.some((p) => p.startsWith("/sources/0/trustAll: production mode refuses")), all.join("\n"));
  assert.deepEqual(fieldConfigProblems({
    ...prod, sources: [ua({ securityMode: "None", securityPolicy: "None", trustAll: true })],
    overrides: { allowSecurityNone: { reason: "isolated test cell" }, allowTrustAll: { reason: "commissioning week" } },
  }), []);
  assert.deepEqual(fieldConfigProblems({ ...prod, sources: [ua()] }), []);
  // Development allows both (the defaults are still SignAndEncrypt / Basic256Sha256 and no trust-all).
  assert.deepEqual(fieldConfigProblems({ points: uaPoints, sources: [ua({ securityMode: "None", securityPolicy: "None", trustAll: true })] }), []);
});

void test("OPC UA: mode and policy must agree, passwords never over None, addresses are configured items", () => {
  const p = fieldConfigProblems({ points: pointsFor("ua", ["ns=2;s=B"]), sources: [ua({ securityMode: "SignAndEncrypt", securityPolicy: "None", user: { type: "username", username: "op", passwordFile: "/x" } })] });
  assert.ok(p.some((x) => x.startsWith("/sources/0/securityPolicy:")), p.join("\n"));
  assert.ok(p.some((x) => x.startsWith("/points/0/address:") && x.includes("ns=2;s=A")), p.join("\n"));
  const q = fieldConfigProblems({ points: uaPoints, sources: [ua({ securityMode: "None", securityPolicy: "None", user: { type: "username", username: "op", passwordFile: "/x" } })] });
  assert.ok(q.some((x) => x.startsWith("/sources/0/user:")), q.join("\n"));
});

void test("Modbus: unit ids, register uniqueness, bit tables untyped, RTU address range, point addresses", () => {
  const dev = (unitId: number, registers: unknown[]) => ({ unitId, registers });
  const p = fieldConfigProblems({
    points: [...pointsFor("rtu", ["unit/0/hr/1"]), ...pointsFor("tcp", ["unit/1/hr/9"])].map((x, i) => ({ ...x, name: `p${i}` })),
    sources: [
      { id: "rtu", kind: "modbus-rtu", device: "/dev/ttyUSB0", devices: [dev(0, [{ table: "hr", register: 1 }])] },
      { id: "tcp", kind: "modbus-tcp", host: "10.0.0.7", devices: [dev(1, [{ table: "hr", register: 1 }, { table: "hr", register: 1 }, { table: "co", register: 2, type: "float32" }]), dev(1, [{ table: "ir", register: 0 }])] },
    ],
  });
  for (const want of ["/sources/0/devices/0/unitId: RTU", "/sources/1/devices/0/registers/1/register", "/sources/1/devices/0/registers/2/type", "/sources/1/devices/1/unitId", "/points/1/address"]) {
    assert.ok(p.some((x) => x.startsWith(want)), `${want}\n${p.join("\n")}`);
  }
  const t = fieldConfigProblems({ points: pointsFor("tcp", ["unit/1/hr/1"]), sources: [{ id: "tcp", kind: "modbus-tcp", host: "10.0.0.7", devices: [dev(1, [{ table: "hr", register: 1, type: "double" }])] }] });
  assert.ok(t.some((x) => x.startsWith("/sources/0/devices/0/registers/0/type")), t.join("\n"));
});
