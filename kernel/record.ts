/**
 * The normalized reading: what every adapter's raw value becomes, with its provenance.
 * This is the plaintext inside a sealed envelope (schema id "otgw.reading/1", see docs/records.md).
 */

/** OPC UA-style quality classes; the detail keeps the source's own code (status code, Modbus exception). */
export type Quality = "good" | "uncertain" | "bad";

export interface Lineage {
  /** Gateway that produced the record (also the certificate identity). */
  gatewayId: string;
  /** Adapter kind: "sim", "opcua", "modbus-tcp", "modbus-rtu", "gpio". */
  adapter: string;
  /** Stable URI of the point at its source (docs/records.md lists the schemes). */
  sourceUri: string;
  /** Serial or asset id of the device that measured the value. */
  deviceId: string;
  /** Calibration record id of that device, if known. */
  calibrationId: string | null;
  /** Id of the transform rule applied (scale/offset/unit), as configured. */
  transformRuleId: string;
  /** SHA-256 (hex) of the canonical JSON of that rule as configured: proves which rule ran. */
  transformRuleSha256: string;
}

export interface NormalizedRecord {
  /** Point name, unique per gateway (e.g. "pump1.vibration_rms"). */
  point: string;
  /** Stream the point belongs to; one stream = one schema and one sealed session at a time. */
  stream: string;
  value: number | boolean | string | null;
  unit: string;
  quality: Quality;
  /** Source-specific quality detail (e.g. "modbus-exception:2", "opcua:BadCommunicationError"). */
  qualityDetail: string | null;
  /** Source timestamp, ns since epoch, as a decimal string (JSON has no 64-bit integers). */
  sourceTsNs: string;
  /** Gateway receive timestamp, ns since epoch, decimal string. */
  gatewayTsNs: string;
  lineage: Lineage;
}

export const READING_SCHEMA_ID = "otgw.reading/1";
