import { spawn, type ChildProcess } from "node:child_process";
import { errorFromWire, TpmError } from "../../kernel/errors.js";
import { providerLaunch } from "./provider.js";
import { scriptArgs } from "../../kernel/child-script.js";

/**
 * Why a sidecar: Node's OpenSSL takes one provider configuration per process. With the tpm2 provider
 * first, SHA-256 runs in the TPM (~1 ms a hash) and EC key generation fails (the envelope's HPKE);
 * preferring the default provider instead breaks signing with the TPM key or verifying software
 * signatures (OpenSSL 3.0 exports keys across providers). So TLS with the TPM key runs in a small
 * child process configured for exactly that, and the gateway speaks plain MQTT to it over a unix
 * socket (mode 0600, in the state directory). The broker still sees the TPM key's TLS session.
 */
export interface SidecarConfig {
  tcti: string;
  keyPem: string;
  certPem: string;
  publicKeyPem: string;
  caPem: string;
  host: string;
  port: number;
  servername?: string;
  socketPath: string;
}

export interface TlsSidecar {
  readonly socketPath: string;
  readonly daysLeft: number;
  /**
   * Calls `listener` with each upstream TLS failure (e.g. the broker refusing the certificate): the
   * uplink itself only sees its local socket close, so this is how the gateway learns why.
   */
  onUpstreamError(listener: (error: string, code: string | undefined) => void): void;
  close(): Promise<void>;
}


// A sidecar must not outlive the gateway: one exit hook kills whichever are still running (a running
// gateway starts a new sidecar at every identity switch, so a hook per sidecar would pile up).
const running = new Set<ChildProcess>();
let hooked = false;
function track(p: ChildProcess): void {
  running.add(p);
  if (hooked) return;
  hooked = true;
  process.once("exit", () => { for (const c of running) c.kill("SIGKILL"); });
}

/** Starts the sidecar; resolves once its self-test passed and the socket listens. */
export function startTlsSidecar(c: SidecarConfig): Promise<TlsSidecar> {
  const { execArgv, env } = providerLaunch(c.tcti);
  const p = spawn(process.execPath, [...execArgv, ...scriptArgs("tls-sidecar-main", import.meta.url)], { env: { ...env, OTGW_SIDECAR: JSON.stringify(c) }, stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((r) => p.once("exit", () => { running.delete(p); r(); }));
  track(p);
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer): void => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line || !out.includes("\n")) return;
      p.stdout.off("data", onData);
      const r = JSON.parse(line) as { ready: boolean; daysLeft?: number; code?: string; message?: string };
      if (!r.ready) { reject(errorFromWire(r.code, r.message ?? "TPM TLS sidecar failed") ?? new TpmError("SIDECAR_FAILED", r.message ?? "TPM TLS sidecar failed")); return; }
      // After "ready" the sidecar prints one JSON line per upstream TLS failure.
      const listeners: Array<(error: string, code: string | undefined) => void> = [];
      let rest = out.slice(out.indexOf(line) + line.length + 1);
      p.stdout.on("data", (chunk: Buffer) => {
        rest += chunk.toString();
        const lines = rest.split("\n");
        rest = lines.pop() ?? "";
        for (const l of lines) {
          try {
            const e = JSON.parse(l) as { upstreamError?: string; code?: string };
            if (typeof e.upstreamError === "string") for (const f of listeners) f(e.upstreamError, e.code);
          } catch { /* not a report line */ }
        }
      });
      resolve({
        socketPath: c.socketPath,
        daysLeft: r.daysLeft ?? 0,
        onUpstreamError: (f) => { listeners.push(f); },
        async close() { p.stdin.end(); const t = setTimeout(() => p.kill("SIGKILL"), 5000); await exited; clearTimeout(t); },
      });
    };
    p.stdout.on("data", onData);
    p.once("exit", (code) => reject(new TpmError("SIDECAR_FAILED", `the TPM TLS sidecar exited (${code}) before it was ready: ${out.trim()}`)));
  });
}
