// Field-adapter configs around given sources and points, for the adapter tests and the adapter bench
// (development mode, software keys; never a deployment config).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadConfig } from "../../firmware/config/load.js";
import { checkConfigFile } from "../../firmware/config/index.js";
import type { GatewayConfig } from "../../firmware/config/schema.js";

type Json = Record<string, unknown>;

export interface FieldConfigParts {
  sources: Json[];
  points: Json[];
  transforms?: Json[];
  streams?: Json[];
  mode?: "development" | "production";
  overrides?: Json;
  keystore?: "software" | "tpm";
}

function write(parts: FieldConfigParts): { file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "otgw-field-"));
  const c = {
    version: 1,
    gateway: { id: "gw-field", mode: parts.mode ?? "development", stateDir: join(dir, "state") },
    identity: { keystore: parts.keystore ?? "software", certFile: "gw.pem", caFile: "ca.pem" },
    receiver: { publicKeyFile: "rx.pem" },
    uplink: { url: "mqtts://127.0.0.1:8883", caFile: "ca.pem" },
    streams: parts.streams ?? [{ id: "telemetry", priority: 2, valueSchema: { anyOf: [{ type: "number" }, { type: "boolean" }] } }],
    transforms: parts.transforms ?? [{ id: "raw-v1", unit: "1" }],
    sources: parts.sources,
    points: parts.points,
    ...(parts.overrides ? { overrides: parts.overrides } : {}),
  };
  const file = join(dir, "gw.yaml");
  writeFileSync(file, stringify(c));
  return { file, dir };
}

/** Writes a gateway config around the given sources and points and loads it through loadConfig. */
export function fieldConfig(parts: FieldConfigParts): { config: GatewayConfig; file: string; dir: string } {
  const { file, dir } = write(parts);
  return { config: loadConfig(file).config, file, dir };
}

/** The problems `otgw config check` would print for such a config. */
export function fieldConfigProblems(parts: FieldConfigParts): string[] {
  return checkConfigFile(write(parts).file).problems;
}

/** One point per address, all on stream "telemetry" with the given transform. */
export function pointsFor(source: string, addresses: string[], transform = "raw-v1"): Json[] {
  return addresses.map((address, i) => ({ name: `${source}.p${i}`, source, address, stream: "telemetry", transform, deviceId: `SN-${source}` }));
}
