import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { TpmError } from "../../kernel/errors.js";

/**
 * DEVELOPMENT AND TESTS ONLY: a software TPM (swtpm) on free TCP ports with its own state directory
 * and, optionally, an EK certificate chain from a private swtpm_localca (so each test has its own
 * "manufacturer" root). Missing swtpm is an error, never a reason to skip.
 */
export interface RunningSwtpm {
  /** TCTI string for ESAPI and the tpm2 provider. */
  readonly tcti: string;
  readonly port: number;
  readonly stateDir: string;
  /** The manufacturer CA certificates (root first) that sign this TPM's EK certificate, PEM. */
  readonly ekCaPem: string[];
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
let hooked = false;

function need(bin: string): void {
  const r = spawnSync("sh", ["-c", `command -v ${bin}`]);
  if (r.status !== 0) throw new TpmError("SWTPM_MISSING", `${bin} is not installed: apt-get install swtpm swtpm-tools (scripts/setup.sh does it)`);
}

/** Runs swtpm_setup with a private local CA in `caDir` (created on first use, reused afterwards). */
function manufacture(stateDir: string, caDir: string): void {
  need("swtpm_setup");
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  const localcaConf = join(caDir, "swtpm-localca.conf");
  writeFileSync(localcaConf, [`statedir = ${caDir}`, `signingkey = ${join(caDir, "signkey.pem")}`, `issuercert = ${join(caDir, "issuercert.pem")}`, `certserial = ${join(caDir, "certserial")}`, ""].join("\n"));
  const options = join(caDir, "swtpm-localca.options");
  writeFileSync(options, "--platform-manufacturer otgw-test\n--platform-version 2.1\n--platform-model swtpm\n");
  const setupConf = join(caDir, "swtpm_setup.conf");
  writeFileSync(setupConf, [`create_certs_tool = /usr/bin/swtpm_localca`, `create_certs_tool_config = ${localcaConf}`, `create_certs_tool_options = ${options}`, "active_pcr_banks = sha256", ""].join("\n"));
  const r = spawnSync("swtpm_setup", ["--tpm2", "--tpmstate", stateDir, "--create-ek-cert", "--create-platform-cert", "--ecc", "--config", setupConf, "--overwrite"], { encoding: "utf8" });
  if (r.status !== 0) throw new TpmError("SWTPM_SETUP", `swtpm_setup failed (${r.status}): ${r.stderr || r.stdout}`);
}

function caChain(caDir: string): string[] {
  // swtpm_localca writes a root (swtpm-localca-rootca-cert.pem) and an intermediate (issuercert.pem).
  const files = readdirSync(caDir).filter((f) => f.endsWith("cert.pem")).sort((a, b) => (a.includes("root") ? -1 : b.includes("root") ? 1 : 0));
  return files.map((f) => readFileSync(join(caDir, f), "utf8"));
}

/** True if a listener could bind `port` now (TIME_WAIT leftovers of other clients block swtpm too). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

/**
 * Starts swtpm in `dir`. With `ekCaDir`, the TPM is first manufactured with an ECC + RSA EK and EK
 * certificates signed by the local CA kept in `ekCaDir` (share it between TPMs of one "vendor").
 */
export async function startSwtpm(dir: string, opts: { ekCaDir?: string } = {}): Promise<RunningSwtpm> {
  need("swtpm");
  const stateDir = join(dir, "state");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  if (opts.ekCaDir && !existsSync(join(stateDir, "tpm2-00.permall"))) manufacture(stateDir, opts.ekCaDir);
  // Two adjacent ports are needed and another process may take one meanwhile: retry on collision.
  for (let attempt = 0; ; attempt++) {
    const started = await launch(stateDir);
    if (started.ok) return { ...started.tpm, stateDir, ekCaPem: opts.ekCaDir ? caChain(opts.ekCaDir) : [] };
    if (attempt >= 5 || !/in use/i.test(started.error)) throw new TpmError("SWTPM_START", `swtpm did not start: ${started.error}`);
  }
}

type Launched = { ok: true; tpm: Pick<RunningSwtpm, "tcti" | "port" | "stop"> } | { ok: false; error: string };

async function launch(stateDir: string): Promise<Launched> {
  // Below Linux's ephemeral range (32768+): clients' TIME_WAIT ports there block swtpm's bind.
  let port = 20_000 + 2 * Math.floor(Math.random() * 6000);
  for (let i = 0; i < 50 && !((await bindable(port)) && (await bindable(port + 1))); i++) port = 20_000 + 2 * Math.floor(Math.random() * 6000);
  const p = spawn("swtpm", ["socket", "--tpm2", "--server", `type=tcp,port=${port},bindaddr=127.0.0.1`, "--ctrl", `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
    "--tpmstate", `dir=${stateDir}`, "--flags", "not-need-init,startup-clear"], { stdio: ["ignore", "ignore", "pipe"] });
  children.add(p);
  if (!hooked) {
    hooked = true;
    process.once("exit", () => { for (const c of children) c.kill("SIGKILL"); });
  }
  let stderr = "";
  p.stderr?.on("data", (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((r) => p.once("exit", () => { children.delete(p); r(); }));
  for (let i = 0; i < 200; i++) {
    if (p.exitCode !== null) break;
    if (await reachable(port)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  if (p.exitCode !== null) {
    await exited;
    return { ok: false, error: `exit ${p.exitCode}: ${stderr.trim()}` };
  }
  return {
    ok: true,
    tpm: {
      tcti: `swtpm:host=127.0.0.1,port=${port}`,
      port,
      async stop() {
        if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
        await exited;
      },
    },
  };
}
