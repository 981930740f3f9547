import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { ClientTls } from "./broker-fixture.js";

/**
 * Connects a plain MQTT.js v5 client (a test peer, not the uplink) and resolves on CONNACK; rejects
 * with the first error. No automatic reconnect unless asked, so a refused client fails instead of looping.
 */
export function connectClient(url: string, tls: Partial<ClientTls>, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      rejectUnauthorized: true,
      ...tls,
      ...opts,
      // Passed through to tls.connect although MQTT.js's type does not list it.
      ...({ minVersion: "TLSv1.3" } as IClientOptions),
    });
    // Only our own listeners are removed later: MQTT.js keeps internal ones on the same events.
    const onError = (err: Error) => {
      c.end(true);
      reject(err);
    };
    const onClose = () => onError(new Error("connection closed before CONNACK"));
    c.on("error", onError);
    c.on("close", onClose);
    c.once("connect", () => {
      c.off("error", onError);
      c.off("close", onClose);
      c.on("error", () => undefined); // test peers report through assertions, not crashes
      resolve(c);
    });
  });
}
