import type { EgressPlan, Endpoint } from "./endpoints.js";

/** Name of the nftables table otgw owns; nothing else in it, nothing of it elsewhere. */
export const EGRESS_TABLE = "otgw_egress";

export interface RenderOptions {
  /** Admit inbound SSH (tcp/22); the image has sshd only when the integrator enabled key-only SSH. */
  ssh?: boolean;
  /** First line comment, e.g. the config file it came from. */
  source?: string;
}

// nft comments are limited to 128 bytes and must not contain a double quote.
const comment = (text: string): string => `comment "${text.replace(/"/g, "'").slice(0, 120)}"`;
const daddr = (e: Endpoint): string => `${e.family === 6 ? "ip6" : "ip"} daddr ${e.address}`;

/**
 * Renders the allowlist as one nftables script. Loading it with `nft -f` is atomic and replaces the
 * previous table (create-then-delete idiom), so a reload never leaves a moment without rules.
 * Layout and rationale: docs/egress.md.
 */
export function renderEgress(plan: EgressPlan, o: RenderOptions = {}): string {
  const out: string[] = [];
  const rule = (r: string): number => out.push(`\t\t${r}`);
  out.push("#!/usr/sbin/nft -f");
  out.push(`# otgw egress allowlist${o.source !== undefined ? ` rendered from ${o.source}` : ""} (docs/egress.md). Do not edit: re-render.`);
  out.push(`table inet ${EGRESS_TABLE}`, `delete table inet ${EGRESS_TABLE}`, `table inet ${EGRESS_TABLE} {`);
  out.push("\tcounter dropped_out {", "\t}", "\tcounter dropped_in {", "\t}", "\tcounter dropped_forward {", "\t}");

  out.push("\tchain output {", "\t\ttype filter hook output priority filter; policy drop;");
  rule(`oif "lo" accept`);
  rule("ct state established,related accept");
  rule(`ct state invalid counter name "dropped_out" drop`);
  for (const e of plan.endpoints) rule(`${daddr(e)} ${e.proto} dport ${e.port} accept ${comment(`${e.role} ${e.field}`)}`);
  for (const e of plan.dns) rule(`${daddr(e)} ${e.proto} dport 53 accept ${comment(`dns ${e.field}`)}`);
  if (plan.ntp === null) rule(`udp dport 123 accept ${comment("ntp: any server (network.ntp not set)")}`);
  else for (const e of plan.ntp) rule(`${daddr(e)} udp dport 123 accept ${comment(`ntp ${e.field}`)}`);
  if (plan.dhcp) {
    rule(`udp sport 68 udp dport 67 accept ${comment("dhcp network.dhcp")}`);
    rule(`udp sport 546 udp dport 547 accept ${comment("dhcpv6 network.dhcp")}`);
  }
  // IPv6 cannot work without neighbour discovery; these never leave the link.
  rule("icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report } accept");
  rule(`counter name "dropped_out" drop`);
  out.push("\t}");

  out.push("\tchain input {", "\t\ttype filter hook input priority filter; policy drop;");
  rule(`iif "lo" accept`);
  rule("ct state established,related accept");
  rule(`ct state invalid counter name "dropped_in" drop`);
  rule("icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept");
  if (plan.dhcp) {
    rule(`udp sport 67 udp dport 68 accept ${comment("dhcp network.dhcp")}`);
    rule(`udp sport 547 udp dport 546 accept ${comment("dhcpv6 network.dhcp")}`);
  }
  if (o.ssh === true) rule(`tcp dport 22 accept ${comment("ssh (image build option, key-only)")}`);
  rule(`counter name "dropped_in" drop`);
  out.push("\t}");

  // The gateway bridges plant and cloud networks at the application layer only: never route.
  out.push("\tchain forward {", "\t\ttype filter hook forward priority filter; policy drop;");
  rule(`counter name "dropped_forward" drop`);
  out.push("\t}", "}", "");
  return out.join("\n");
}
