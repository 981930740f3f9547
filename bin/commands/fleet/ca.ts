import { X509Certificate } from "node:crypto";
import { resolve } from "node:path";
import { createLogger } from "../../../kernel/log.js";
import { FleetCa, initCa } from "../../../fleet/ca/fleet-ca.js";
import { startEstServer } from "../../../fleet/est/server.js";

export interface CaInitCliOptions { dir: string; name: string; days: number; certDays: number; crlDays: number; serverName: string[]; ekRoot: string[]; quotes?: "required" | "report" }

/** `otgw ca init`: a fleet CA directory with EST server certificate, EK roots and an empty CRL. */
export async function caInitCommand(o: CaInitCliOptions): Promise<number> {
  const dir = resolve(o.dir);
  await initCa(dir, {
    name: o.name, days: o.days, certDays: o.certDays, crlDays: o.crlDays,
    serverNames: o.serverName.length > 0 ? o.serverName : ["localhost", "127.0.0.1"], ekRoots: o.ekRoot, quotes: o.quotes ?? "report",
  });
  const ca = FleetCa.open(dir);
  console.log(`fleet CA created in ${dir}`);
  console.log(`  CA certificate   ${ca.caFile}`);
  console.log(`  fingerprint      ${new X509Certificate(ca.certPem).fingerprint256}  (give this to technicians: otgw provision --ca-fingerprint)`);
  console.log(`  CRL              ${ca.crlFile}  (mosquitto: crlfile)`);
  console.log(`  EK roots         ${o.ekRoot.length} file(s) in ${dir}/ek-roots/ (TPM manufacturer certificates)`);
  console.log(`  certificates     ${o.certDays} day(s); CRL every ${o.crlDays} day(s)`);
  console.log(`  boot quotes      ${o.quotes ?? "report"}; boot policies in ${ca.bootPolicyDir}/ (docs/boot-policy.md)`);
  return 0;
}

/** `otgw ca serve`: the EST server until SIGINT/SIGTERM. */
export async function caServeCommand(o: { dir: string; host: string; port: number }): Promise<number> {
  const ca = FleetCa.open(resolve(o.dir));
  const logger = createLogger();
  const est = await startEstServer({ ca, logger, host: o.host, port: o.port });
  console.log(`EST server on ${est.url}/.well-known/est/ (CA fingerprint ${new X509Certificate(ca.certPem).fingerprint256})`);
  await new Promise<void>((r) => { process.once("SIGINT", r); process.once("SIGTERM", r); });
  await est.close();
  return 0;
}

/** `otgw ca revoke ID`: revokes every certificate of a gateway and publishes the CRL. */
export async function caRevokeCommand(gatewayId: string, o: { dir: string; forget?: boolean }): Promise<number> {
  const ca = FleetCa.open(resolve(o.dir));
  const serials = await ca.revoke(gatewayId, { forget: o.forget ?? false });
  createLogger().child({ module: "ca" }).info({ event: "identity.revoked", gatewayId, serials }, "gateway revoked");
  console.log(`revoked ${serials.length} certificate(s) of ${gatewayId}: ${serials.join(", ") || "(none active)"}`);
  console.log(`CRL published at ${ca.crlFile}: reload the broker (systemctl reload mosquitto, i.e. SIGHUP: mosquitto re-reads the CRL, no restart) so the gateway's next handshake is refused; receivers pick it up on their next check`);
  return 0;
}

/** `otgw ca list`: the inventory. */
export function caListCommand(o: { dir: string }): number {
  const ca = FleetCa.open(resolve(o.dir));
  for (const g of ca.inventory.all()) {
    const active = g.certs.filter((c) => !c.revokedAt);
    const last = g.certs[g.certs.length - 1];
    console.log(`${g.gatewayId}\tEK ${g.ekPublicSha256.slice(0, 16)}…\tkeys ${g.keys.length}\tcerts ${g.certs.length} (${active.length} active)\tlast ${last?.serial ?? "-"} until ${last?.notAfter ?? "-"}${active.length === 0 ? "\tREVOKED" : ""}`);
  }
  return 0;
}
