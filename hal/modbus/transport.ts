import { SourceError } from "../../kernel/errors.js";

/** Result of a read, as modbus-serial delivers it: `buffer` holds the response's data bytes. */
export interface ReadResult {
  buffer: Buffer;
}

type Cb = (err: unknown, res?: ReadResult) => void;

/**
 * The part of a modbus-serial client the adapter uses: the four read functions with an explicit unit
 * id (so requests for several devices can be in flight on one TCP connection without racing on a
 * shared "current id"), close, and liveness. Tests and the bench can substitute their own.
 */
export interface ModbusClient {
  readonly isOpen: boolean;
  writeFC1(unit: number, start: number, count: number, next: Cb): void;
  writeFC2(unit: number, start: number, count: number, next: Cb): void;
  writeFC3(unit: number, start: number, count: number, next: Cb): void;
  writeFC4(unit: number, start: number, count: number, next: Cb): void;
  close(next: () => void): void;
}

export interface SerialSettings {
  baudRate: number;
  parity: "none" | "even" | "odd";
  dataBits: 7 | 8;
  stopBits: 1 | 2;
}

interface RawClient extends ModbusClient {
  setTimeout(ms: number): void;
  on(event: "error" | "close", fn: (err?: unknown) => void): unknown;
  connectTCP(host: string, opts: { port: number; timeout?: number }, next: (err?: unknown) => void): void;
  connectRTUBuffered(path: string, opts: SerialSettings, next: (err?: unknown) => void): void;
}

/** modbus-serial is loaded only when a Modbus source is configured (STYLE 1). */
async function newClient(timeoutMs: number): Promise<RawClient> {
  const mod = (await import("modbus-serial")) as unknown as { default: new () => RawClient };
  const client = new mod.default();
  client.setTimeout(timeoutMs);
  // A socket or serial error after connect must not become an uncaught 'error' event: the next request
  // fails with "Port Not Open" and the source reconnects.
  client.on("error", () => undefined);
  return client;
}

function opened(client: RawClient, what: string, connect: (next: (err?: unknown) => void) => void, timeoutMs: number): Promise<ModbusClient> {
  return new Promise((resolve, reject) => {
    let done = false;
    const t = setTimeout(() => {
      if (done) return;
      done = true;
      client.close(() => undefined);
      reject(new SourceError("MODBUS_CONNECT", `${what}: no connection within ${timeoutMs} ms; check address, cabling and firewall`));
    }, timeoutMs);
    connect((err) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      if (err) {
        client.close(() => undefined);
        reject(new SourceError("MODBUS_CONNECT", `${what}: cannot connect: ${err instanceof Error ? err.message : typeof (err as { message?: unknown }).message === "string" ? String((err as { message: string }).message) : "connection error"}`, { cause: err }));
      } else resolve(client);
    });
  });
}

/** Opens a Modbus TCP connection. */
export async function connectTcp(host: string, port: number, timeoutMs: number): Promise<ModbusClient> {
  const client = await newClient(timeoutMs);
  return opened(client, `modbus tcp ${host}:${port}`, (next) => client.connectTCP(host, { port, timeout: timeoutMs }, next), timeoutMs);
}

/** Opens a Modbus RTU serial line (buffered framing: whole frames by expected length). */
export async function connectRtu(path: string, serial: SerialSettings, timeoutMs: number): Promise<ModbusClient> {
  const client = await newClient(timeoutMs);
  return opened(client, `modbus rtu ${path}`, (next) => client.connectRTUBuffered(path, serial, next), Math.max(timeoutMs, 2000));
}
