/**
 * The TPM TLS sidecar process (started by tls-sidecar.ts with the tpm2 provider loaded): accepts plain
 * connections on a unix socket only its user can open and forwards each over mutual TLS 1.3 to one
 * target, authenticating with the TPM key. Exits when its parent's stdin pipe closes.
 */
import { chmodSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { connect, createSecureContext } from "node:tls";
import { createPublicKey } from "node:crypto";
import { codeOf, errorText } from "../../kernel/errors.js";
import { tpmTlsSelfTest } from "./selftest.js";
import type { SidecarConfig } from "./tls-sidecar.js";

async function main(): Promise<void> {
  const c = JSON.parse(process.env.OTGW_SIDECAR ?? "{}") as SidecarConfig;
  const { daysLeft } = await tpmTlsSelfTest({ keyPem: c.keyPem, certPem: c.certPem, tcti: c.tcti, publicKey: createPublicKey(c.publicKeyPem) });
  rmSync(c.socketPath, { force: true });
  // One context for every connection: a new context loads the key into the TPM again, and only GC
  // frees it, so reconnects would exhaust the TPM's object slots (measured: ~13 handshakes).
  const secureContext = createSecureContext({ ca: c.caPem, cert: c.certPem, key: c.keyPem, minVersion: "TLSv1.3" });
  const server = createServer((local) => {
    const remote = connect({ host: c.host, port: c.port, servername: c.servername, secureContext, rejectUnauthorized: true, minVersion: "TLSv1.3" });
    const close = (): void => { local.destroy(); remote.destroy(); };
    remote.once("secureConnect", () => { local.pipe(remote); remote.pipe(local); });
    remote.once("error", (err: NodeJS.ErrnoException) => {
      process.stderr.write(`${JSON.stringify({ level: 40, module: "tls-sidecar", msg: "upstream TLS failed", err: errorText(err) })}\n`);
      // The gateway reads this from our stdout: its MQTT client only sees the local socket close.
      process.stdout.write(`${JSON.stringify({ upstreamError: errorText(err), code: err.code })}\n`);
      close();
    });
    local.once("error", close);
    remote.once("close", close);
    local.once("close", close);
  });
  await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(c.socketPath, () => resolve()); });
  chmodSync(c.socketPath, 0o600);
  process.stdin.resume();
  process.stdin.once("end", () => { server.close(); rmSync(c.socketPath, { force: true }); process.exit(0); });
  console.log(JSON.stringify({ ready: true, daysLeft }));
}

main().catch((err: unknown) => {
  console.log(JSON.stringify({ ready: false, code: codeOf(err) ?? "SIDECAR_FAILED", message: errorText(err) }));
  process.exit(1);
});
