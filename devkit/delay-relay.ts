import { connect, createServer, type Server, type Socket } from "node:net";
import { DevkitError } from "../kernel/errors.js";

/**
 * DEVELOPMENT AND TESTS ONLY: a TCP relay that delays every chunk, in each direction, by
 * `delayMs ± jitterMs` (uniform), for a link with latency where this kernel has no `netem`. A chunk is
 * never released before the one read before it in the same direction, so each direction keeps its byte
 * order (TCP's promise) and jitter shows as bursts, not reordering. TLS passes through untouched.
 */
export interface DelayRelayOptions {
  /** Where to forward to (the broker). */
  targetHost: string;
  targetPort: number;
  /** Mean one-way delay per chunk (ms). */
  delayMs: number;
  /** Uniform jitter around the mean (ms); the delay of a chunk is never below 0. */
  jitterMs: number;
  /** Random numbers in [0, 1) (a seeded PRNG makes a run repeatable); default Math.random. */
  random?: () => number;
  /** Listen port on 127.0.0.1; default a free one. */
  port?: number;
}

export interface DelayRelay {
  /** Port on 127.0.0.1 the relay listens on. */
  readonly port: number;
  /** Chunks forwarded so far, both directions. */
  readonly chunks: number;
  /** Smallest and largest delay a chunk actually waited (ms, measured). */
  readonly observedMs: { min: number; max: number };
  /** Connections accepted so far. */
  readonly connections: number;
  /** Stops listening and drops every relayed connection. */
  close(): Promise<void>;
}

interface Pending { dueMs: number; buf: Buffer; readMs: number }

export async function startDelayRelay(o: DelayRelayOptions): Promise<DelayRelay> {
  if (!(o.delayMs >= 0) || !(o.jitterMs >= 0) || o.jitterMs > o.delayMs) {
    throw new DevkitError("DEVKIT_RELAY", `delay relay: delayMs (${o.delayMs}) and jitterMs (${o.jitterMs}) must be >= 0 with jitter <= delay`);
  }
  const random = o.random ?? Math.random;
  const sockets = new Set<Socket>();
  const stats = { chunks: 0, connections: 0, min: Number.POSITIVE_INFINITY, max: 0 };

  /** One direction: chunks read from `from` are written to `to` once due, in read order. */
  const pipe = (from: Socket, to: Socket): void => {
    const queue: Pending[] = [];
    let lastDue = 0;
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const pump = (): void => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && (queue[0]?.dueMs ?? 0) <= now) {
        const p = queue.shift() as Pending;
        const waited = now - p.readMs;
        stats.min = Math.min(stats.min, waited);
        stats.max = Math.max(stats.max, waited);
        stats.chunks++;
        if (!to.destroyed) to.write(p.buf);
      }
      if (queue.length > 0) timer = setTimeout(pump, Math.max(0, (queue[0]?.dueMs ?? now) - now));
      else if (ended && !to.destroyed) to.end();
    };
    from.on("data", (buf: Buffer) => {
      const now = Date.now();
      const delay = Math.max(0, o.delayMs + (random() * 2 - 1) * o.jitterMs);
      // Never before the previous chunk of this direction: byte order is kept.
      lastDue = Math.max(lastDue, now + delay);
      queue.push({ dueMs: lastDue, buf, readMs: now });
      timer ??= setTimeout(pump, Math.max(0, lastDue - now));
    });
    from.on("end", () => { ended = true; timer ??= setTimeout(pump, 0); });
    from.on("close", () => { if (timer) clearTimeout(timer); if (!ended) to.destroy(); });
  };

  const server: Server = createServer((client) => {
    stats.connections++;
    const upstream = connect({ host: o.targetHost, port: o.targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("error", () => { client.destroy(); upstream.destroy(); });
      s.once("close", () => sockets.delete(s));
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new DevkitError("DEVKIT_RELAY", `delay relay could not listen on 127.0.0.1:${o.port ?? 0}: ${e.message}`)));
    server.listen(o.port ?? 0, "127.0.0.1", resolve);
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    port,
    get chunks() { return stats.chunks; },
    get connections() { return stats.connections; },
    get observedMs() { return { min: stats.chunks > 0 ? stats.min : 0, max: stats.max }; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
