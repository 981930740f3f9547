import { isIP } from "node:net";

/**
 * The network endpoints a gateway config implies, as the egress allowlist needs them: IP addresses
 * and ports, each tagged with the config field it came from so rules and errors can name it.
 *
 * Reads the raw (parsed, not schema-validated) config on purpose: the integrator's file baked into the
 * image is a template that `otgw provision` completes, so it may lack the identity files the full
 * loader insists on. Only the fields the allowlist depends on are checked here, each error naming its
 * field (docs/egress.md).
 */

export type Proto = "tcp" | "udp";

/** One allowed destination: an address (v4 or v6 literal), a protocol and a port. */
export interface Endpoint {
  /** Config field (JSON pointer) this destination comes from, e.g. "/uplink/url". */
  field: string;
  /** What it is for, in a word or two ("uplink", "est", "modbus-tcp plc1"). */
  role: string;
  address: string;
  family: 4 | 6;
  proto: Proto;
  port: number;
}

/** What the renderer needs, derived from a config. */
export interface EgressPlan {
  /** Broker(s), EST server and plant-side peers. */
  endpoints: Endpoint[];
  /** DNS servers (port 53 udp+tcp); empty: no DNS. */
  dns: Endpoint[];
  /** NTP servers (udp 123); null: any address. */
  ntp: Endpoint[] | null;
  dhcp: boolean;
  /** Things the integrator should know that are not errors (e.g. no EST server configured). */
  warnings: string[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Result of planning: the plan, or every problem as `field: message`. */
export type PlanResult = { ok: true; plan: EgressPlan } | { ok: false; problems: string[] };

const DEFAULT_PORTS: Record<string, number> = { "mqtt:": 1883, "mqtts:": 8883, "https:": 443, "opc.tcp:": 4840 };

/** host and port of a URL with a scheme from DEFAULT_PORTS; brackets of IPv6 literals removed. */
function hostPort(url: string): { host: string; port: number } | string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `not a URL: "${url}"`;
  }
  const def = DEFAULT_PORTS[u.protocol];
  if (def === undefined) return `unsupported scheme "${u.protocol}" in "${url}"`;
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") return `no host in "${url}"`;
  const port = u.port === "" ? def : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port out of range in "${url}"`;
  return { host, port };
}

/** Problems with the `network` section's addresses (also run by the config loader's cross-checks). */
export function networkProblems(data: unknown): string[] {
  const problems: string[] = [];
  const net = obj(obj(data)?.network);
  if (!net) return problems;
  for (const key of ["dns", "ntp"] as const) {
    const xs = net[key];
    if (Array.isArray(xs)) {
      xs.forEach((x, i) => {
        if (isIP(str(x) ?? "") === 0) problems.push(`/network/${key}/${i}: "${String(x)}" is not an IP address; give the server's IPv4 or IPv6 address`);
      });
    }
  }
  const hosts = obj(net.hosts);
  for (const [name, xs] of Object.entries(hosts ?? {})) {
    if (!Array.isArray(xs)) continue;
    xs.forEach((x, i) => {
      if (isIP(str(x) ?? "") === 0) problems.push(`/network/hosts/${name}/${i}: "${String(x)}" is not an IP address`);
    });
  }
  return problems;
}

/**
 * Turns a raw config into the allowlist plan. Host names must be pinned under `network.hosts`: the
 * allowlist is loaded before the network (and DNS) is up, so it cannot resolve them at boot.
 */
export function planEgress(data: unknown): PlanResult {
  const c = obj(data);
  if (!c) return { ok: false, problems: ["/: the config is not a mapping"] };
  const problems = networkProblems(c);
  const warnings: string[] = [];
  const net = obj(c.network);
  // Host names compare case-insensitively (URL parsing lower-cases them).
  const hosts = Object.fromEntries(Object.entries(obj(net?.hosts) ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const endpoints: Endpoint[] = [];

  const addresses = (host: string, field: string): string[] | null => {
    if (isIP(host) !== 0) return [host];
    if (host === "localhost") return []; // loopback is always allowed
    const pinned = hosts[host.toLowerCase()];
    if (Array.isArray(pinned) && pinned.every((a) => isIP(str(a) ?? "") !== 0)) return pinned as string[];
    if (pinned === undefined) {
      problems.push(`${field}: host "${host}" is a name; pin its addresses under network.hosts."${host}" (the allowlist loads before DNS is up) or use an IP address`);
    }
    return null;
  };
  const add = (field: string, role: string, host: string, port: number, proto: Proto = "tcp"): void => {
    for (const address of addresses(host, field) ?? []) {
      endpoints.push({ field, role, address, family: isIP(address) === 6 ? 6 : 4, proto, port });
    }
  };
  const addUrl = (field: string, role: string, url: unknown): void => {
    const u = str(url);
    if (u === undefined) {
      problems.push(`${field}: missing; the allowlist needs it`);
      return;
    }
    const hp = hostPort(u);
    if (typeof hp === "string") problems.push(`${field}: ${hp}`);
    else add(field, role, hp.host, hp.port);
  };

  addUrl("/uplink/url", "uplink", obj(c.uplink)?.url);
  const est = obj(obj(c.identity)?.est);
  if (est) addUrl("/identity/est/url", "est", est.url);
  else warnings.push("identity.est.url is not set: the EST server is not allowed, so `otgw provision` and certificate renewal will be blocked");

  const sources = Array.isArray(c.sources) ? c.sources : [];
  sources.forEach((raw, i) => {
    const s = obj(raw) ?? {};
    const id = str(s.id) ?? `#${i}`;
    if (s.kind === "modbus-tcp") {
      const host = str(s.host);
      if (host === undefined) problems.push(`/sources/${i}/host: missing`);
      else add(`/sources/${i}/host`, `modbus-tcp ${id}`, host, typeof s.port === "number" ? s.port : 502);
    } else if (s.kind === "opcua") {
      addUrl(`/sources/${i}/endpointUrl`, `opcua ${id}`, s.endpointUrl);
    }
  });

  const servers = (key: "dns" | "ntp", port: number, protos: Proto[]): Endpoint[] =>
    (Array.isArray(net?.[key]) ? (net[key] as unknown[]) : []).flatMap((a, i) => {
      const address = str(a) ?? "";
      const family = isIP(address);
      if (family === 0) return []; // reported by networkProblems
      return protos.map((proto) => ({ field: `/network/${key}/${i}`, role: key, address, family: family === 6 ? 6 : 4, proto, port }));
    });
  const dns = servers("dns", 53, ["udp", "tcp"]);
  const ntp = Array.isArray(net?.ntp) ? servers("ntp", 123, ["udp"]) : null;
  const usesNames = endpoints.length > 0 && Object.keys(hosts).length > 0;
  if (usesNames && dns.length === 0) {
    warnings.push("network.hosts pins names but network.dns is not set: the gateway resolves names itself, so put them in /etc/hosts or configure DNS");
  }
  const dhcp = net?.dhcp === undefined ? true : net.dhcp === true;
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, plan: { endpoints, dns, ntp, dhcp, warnings } };
}
