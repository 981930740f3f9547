import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from "mqtt";
import { errorText, RuntimeError } from "../../kernel/errors.js";
import { buildTlsOptions, type UplinkTlsMaterial, type UplinkTlsOptions } from "../../kernel/tls.js";

/**
 * MQTT.js options of every uplink connection: MQTT v5, a clean session (the queue, not MQTT.js, is the
 * durable store), no MQTT.js reconnects (the uplink's own backoff, with a fresh client each time).
 */
export function clientOptions(tls: UplinkTlsMaterial, clientId: string, keepaliveS = 30): IClientOptions & UplinkTlsOptions {
  return {
    protocolVersion: 5,
    clientId,
    clean: true,
    keepalive: keepaliveS,
    reconnectPeriod: 0,
    connectTimeout: 15_000,
    queueQoSZero: false,
    resubscribe: false,
    ...buildTlsOptions(tls),
  };
}

/** A connection not yet adopted (a switch's "make"): resolves at CONNACK, rejects if it closes or fails first. */
export function openConnection(url: string, options: IClientOptions): Promise<{ client: MqttClient; connack: IConnackPacket }> {
  const c = mqtt.connect(url, options);
  return new Promise((resolve, reject) => {
    // Only our own listeners come off: MQTT.js listens to its own connect/close events internally.
    const off = (): void => { c.off("connect", onConnect); c.off("error", onError); c.off("close", onClose); };
    const onConnect = (connack: IConnackPacket): void => { off(); resolve({ client: c, connack }); };
    const fail = (why: string): void => {
      off();
      c.on("error", () => undefined);
      c.end(true);
      reject(new RuntimeError("UPLINK_SWITCH_FAILED", `the new identity's connection failed: ${why}`));
    };
    const onError = (err: Error): void => fail(errorText(err));
    const onClose = (): void => fail("connection closed before CONNACK");
    c.on("connect", onConnect);
    c.on("error", onError);
    c.on("close", onClose);
  });
}

/** Ends a replaced connection with a DISCONNECT, forced after a second. */
export function endGracefully(c: MqttClient): void {
  c.on("error", () => undefined);
  const t = setTimeout(() => c.end(true), 1000);
  c.endAsync(false).then(() => clearTimeout(t), () => clearTimeout(t));
}
