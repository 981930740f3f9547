/**
 * TPM figures: ES256 signing latency through ESAPI on swtpm (`tpm-sign`), and the mutual-TLS 1.3
 * handshake with the TPM key through the tpm2 provider (`tls-handshake-tpm`) next to the same
 * handshake with a software key (`tls-handshake-sw`, its baseline). swtpm is a fast software TPM:
 * real chips sign in 23–190 ms (FACTS), so these are lower bounds for a device.
 *
 * The handshakes run in a child process (this file, with OTGW_BENCH_TPM_CHILD set), because the
 * provider is loaded at process start; the software baseline uses the same child code without it.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect, createSecureContext, createServer } from "node:tls";
import type { BenchFigure } from "./figure.js";
import { median, quantile } from "./stats.js";
import { createCa, issueCertificate } from "../fleet/ca/pki.js";
import { providerLaunch } from "../provisioning/tpm/provider.js";
import { startSwtpm } from "../provisioning/tpm/swtpm.js";
import { startTabrmd } from "../provisioning/tpm/tabrmd.js";
import { TpmKeyStore } from "../provisioning/tpm/tpm-keystore.js";

interface ChildArgs { port: number; ca: string; cert: string; key: string; n: number }

/** Child: `n` sequential handshakes, printing their durations (ms) as one JSON line. */
async function childMain(): Promise<void> {
  const a = JSON.parse(process.env.OTGW_BENCH_TPM_CHILD ?? "{}") as ChildArgs;
  const ms: number[] = [];
  // One context for all handshakes, as the sidecar does: each new context loads the key into the TPM
  // again and only GC frees it, which exhausts the TPM's object slots after ~13 handshakes.
  const secureContext = createSecureContext({ ca: a.ca, cert: a.cert, key: a.key, minVersion: "TLSv1.3" });
  for (let i = 0; i < a.n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port: a.port, secureContext, rejectUnauthorized: true, servername: "localhost" }, () => {
        ms.push(performance.now() - t0);
        s.end();
        resolve();
      });
      s.once("error", reject);
    });
  }
  console.log(JSON.stringify(ms));
}

function childArgs(): string[] {
  const self = import.meta.url;
  const loaders: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const x = process.execArgv[i] ?? "";
    if ((x === "--import" || x === "--require") && process.execArgv[i + 1]) loaders.push(x, process.execArgv[++i] ?? "");
  }
  return [...loaders, fileURLToPath(self)];
}

function runChild(execArgv: string[], env: NodeJS.ProcessEnv, args: ChildArgs): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...execArgv, ...childArgs()], { env: { ...env, OTGW_BENCH_TPM_CHILD: JSON.stringify(args) }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    c.once("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code === 0 && line.startsWith("[")) resolve(JSON.parse(line) as number[]);
      else reject(new Error(`handshake child failed (${code}): ${out}`));
    });
  });
}

function figure(id: string, trials: number[][], note: string): BenchFigure {
  const p50s = trials.map((t) => quantile(t, 0.5));
  const all = trials.flat();
  return { id, unit: "ms", value: median(p50s), spread: Math.max(...p50s) - Math.min(...p50s), p99: quantile(all, 0.99), trials: trials.length, note };
}

export async function benchTpm(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), "otgw-bench-tpm-"));
  const tpm = await startSwtpm(join(dir, "tpm"));
  const rm = await startTabrmd(join(dir, "rm"), tpm.tcti);
  const trials = opts.quick ? 3 : 5;
  try {
    const store = new TpmKeyStore(join(dir, "keys"), rm.tcti);
    const signer = await store.create("bench");
    const signs: number[][] = [];
    const data = Buffer.alloc(64, 7);
    for (let t = 0; t < trials; t++) {
      const ms: number[] = [];
      for (let i = 0; i < (opts.quick ? 30 : 200); i++) {
        const t0 = performance.now();
        await signer.sign(data);
        ms.push(performance.now() - t0);
      }
      signs.push(ms);
    }
    await store.close();

    const ca = await createCa({ commonName: "bench CA", days: 1 });
    const srvKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const srv = await issueCertificate({ ca, commonName: "localhost", publicKey: srvKey.publicKey, days: 1, usage: "server", sanDns: ["localhost"] });
    const tpmCert = await issueCertificate({ ca, commonName: "gw-bench", publicKey: signer.publicKey(), days: 1, usage: "client" });
    const swKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const swCert = await issueCertificate({ ca, commonName: "gw-bench-sw", publicKey: swKey.publicKey, days: 1, usage: "client" });
    const server = createServer({ key: srvKey.privateKey.export({ type: "pkcs8", format: "pem" }), cert: srv.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const n = opts.quick ? 10 : 40;
    const tpmHs: number[][] = [];
    const swHs: number[][] = [];
    const launch = providerLaunch(rm.tcti);
    for (let t = 0; t < trials; t++) {
      tpmHs.push(await runChild(launch.execArgv, launch.env, { port, ca: ca.certPem, cert: tpmCert.certPem, key: readFileSync(join(dir, "keys", "bench.tss2.pem"), "utf8"), n }));
      swHs.push(await runChild([], process.env, { port, ca: ca.certPem, cert: swCert.certPem, key: swKey.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), n }));
    }
    await new Promise<void>((r) => server.close(() => r()));
    const sign = figure("tpm-sign", signs, "ES256 through ESAPI (koffi) on swtpm behind tpm2-abrmd: CreatePrimary + Load + Sign + 2 flushes per signature");
    const hsTpm = figure("tls-handshake-tpm", tpmHs, `mutual TLS 1.3 handshake, client key in swtpm via the tpm2 OpenSSL provider, ${n} sequential per trial`);
    const hsSw = figure("tls-handshake-sw", swHs, `same handshake with a software P-256 key, ${n} sequential per trial`);
    hsTpm.baseline = "tls-handshake-sw";
    hsTpm.ratio = hsTpm.value / hsSw.value;
    return [sign, hsTpm, hsSw];
  } finally {
    await rm.stop();
    await tpm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.OTGW_BENCH_TPM_CHILD) void childMain();
