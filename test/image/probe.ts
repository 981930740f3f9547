/**
 * Network probe for the namespace egress test, run inside a namespace with `ip netns exec`:
 *   node probe.js listen tcp:8883 udp:53 ...   listens (UDP echoes), prints "ready", runs until killed
 *   node probe.js connect '<json targets>'      tries each target, prints a JSON array of outcomes
 * A target is { proto: "tcp"|"udp", host, port }; the outcome is "open" (connected / answered),
 * "refused" (RST or ICMP error: the packet got through) or "timeout" (dropped on the way).
 */
import { createServer, connect } from "node:net";
import { createSocket } from "node:dgram";
import { isIP } from "node:net";

interface Target { proto: "tcp" | "udp"; host: string; port: number }
type Outcome = "open" | "refused" | "timeout";
// Long enough for a SYN on a veth to be answered many times over; a dropped SYN never is.
const WAIT_MS = 1500;

function tcp(t: Target): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = connect({ host: t.host, port: t.port });
    const done = (o: Outcome): void => { clearTimeout(timer); s.destroy(); resolve(o); };
    const timer = setTimeout(() => done("timeout"), WAIT_MS);
    s.once("connect", () => done("open"));
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED" || e.code === "EHOSTUNREACH" ? "refused" : "timeout"));
  });
}

function udp(t: Target): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = createSocket(isIP(t.host) === 6 ? "udp6" : "udp4");
    const done = (o: Outcome): void => { clearTimeout(timer); s.close(); resolve(o); };
    const timer = setTimeout(() => done("timeout"), WAIT_MS);
    s.once("message", () => done("open"));
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED" ? "refused" : "timeout"));
    s.connect(t.port, t.host, () => s.send("probe"));
  });
}

async function listen(specs: string[]): Promise<void> {
  await Promise.all(specs.map((spec) => new Promise<void>((resolve, reject) => {
    const [proto, port] = spec.split(":");
    if (proto === "tcp") {
      const srv = createServer((c) => c.end());
      srv.once("error", reject);
      srv.listen({ port: Number(port), host: "::", ipv6Only: false }, resolve);
    } else {
      const s = createSocket({ type: "udp6", ipv6Only: false });
      s.on("message", (_m, rinfo) => s.send("pong", rinfo.port, rinfo.address));
      s.once("error", reject);
      s.bind(Number(port), "::", resolve);
    }
  })));
  process.stdout.write("ready\n");
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "listen") {
  await listen(rest);
} else if (mode === "connect") {
  const targets = JSON.parse(rest[0] ?? "[]") as Target[];
  const outcomes = await Promise.all(targets.map((t) => (t.proto === "tcp" ? tcp(t) : udp(t))));
  process.stdout.write(JSON.stringify(outcomes) + "\n");
} else {
  process.stderr.write("usage: probe.js listen tcp:PORT udp:PORT ... | connect JSON\n");
  process.exitCode = 2;
}
