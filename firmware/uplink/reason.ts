import { ReasonCodes } from "mqtt/lib/handlers/ack";

/**
 * MQTT.js reports a PUBACK with a failure reason as an Error carrying a numeric `code`. Codes >= 0x80
 * are final refusals (MQTT v5 §2.4): retrying the same message would be refused again, so the
 * caller dead-letters it. Anything else (connection closed, timeouts) is not a refusal.
 */
export function refusalCode(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  const { code } = err;
  return typeof code === "number" && Number.isInteger(code) && code >= 0x80 && code <= 0xff ? code : undefined;
}

/** The reason code in words, from MQTT.js's own table so both say the same thing. */
export function reasonText(code: number): string {
  const table: Readonly<Record<number, string | undefined>> = ReasonCodes;
  return table[code] ?? `reason code 0x${code.toString(16)}`;
}
