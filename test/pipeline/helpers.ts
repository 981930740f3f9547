import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadConfig } from "../../firmware/config/load.js";
import type { GatewayConfig } from "../../firmware/config/schema.js";

/** A fresh temp dir holding a minimal valid gateway config, optionally patched, loaded through loadConfig. */
export function testConfig(patch?: (c: Record<string, unknown> & { transforms: Record<string, unknown>[] }) => void): { config: GatewayConfig; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "otgw-pipe-"));
  const c = {
    version: 1,
    gateway: { id: "gw-test", mode: "development", stateDir: "./state" },
    identity: { keystore: "software", certFile: "gw.pem", caFile: "ca.pem" },
    receiver: { publicKeyFile: "rx.pem" },
    uplink: { url: "mqtts://127.0.0.1:8883", caFile: "ca.pem" },
    streams: [{ id: "vibration", priority: 1, valueSchema: { type: "number", minimum: 0, maximum: 50 } }],
    transforms: [{ id: "vib-mm-s-v1", scale: 1, offset: 0, unit: "mm/s" }] as Record<string, unknown>[],
    sources: [{ id: "plant", kind: "sim", seed: 42, rateHz: 10, assets: [{ id: "pump1", kind: "pump" }] }],
    points: [{ name: "pump1.vibration_rms", source: "plant", address: "pump1/vibration_rms", stream: "vibration", transform: "vib-mm-s-v1", deviceId: "SN-ACC-2001", calibrationId: "CAL-7" }],
  };
  patch?.(c);
  const file = join(dir, "gw.yaml");
  writeFileSync(file, stringify(c));
  return { config: loadConfig(file).config, dir };
}
