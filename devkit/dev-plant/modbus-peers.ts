/**
 * Independent Modbus peers for the adapter tests, the bench and the demo: libmodbus C programs (devkit/dev-plant/peers/) compiled here with
 * Debian's libmodbus-dev, socat pty pairs for RTU, and mbpoll as an independent master. Missing tools
 * fail loudly: these tests are the proof that the adapter talks real Modbus, so they never skip.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { repoRoot } from "../../kernel/paths.js";
import { DevkitError } from "../../kernel/errors.js";

let built: { tcpServer: string; rtuSlave: string } | null = null;

function need(cmd: string, pkg: string): void {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "pipe" });
  } catch {
    throw new DevkitError("DEVKIT_TOOL_MISSING", `${cmd} is missing: install Debian package ${pkg} (scripts/setup.sh does it)`);
  }
}

/** Compiles the libmodbus peers once per process into a temp dir. */
export function buildPeers(): { tcpServer: string; rtuSlave: string } {
  if (built) return built;
  need("cc", "build-essential");
  need("pkg-config", "pkg-config");
  let flags: string[];
  try {
    flags = execFileSync("pkg-config", ["--cflags", "--libs", "libmodbus"], { encoding: "utf8" }).trim().split(/\s+/);
  } catch {
    throw new DevkitError("DEVKIT_TOOL_MISSING", "libmodbus not found by pkg-config: install Debian package libmodbus-dev (scripts/setup.sh does it)");
  }
  const dir = mkdtempSync(join(tmpdir(), "otgw-peers-"));
  const src = join(repoRoot(), "devkit", "dev-plant", "peers");
  const out = { tcpServer: join(dir, "modbus-tcp-server"), rtuSlave: join(dir, "modbus-rtu-slave") };
  for (const [name, bin] of [["modbus-tcp-server.c", out.tcpServer], ["modbus-rtu-slave.c", out.rtuSlave]] as const) {
    execFileSync("cc", ["-Wall", "-O1", "-o", bin, join(src, name), ...flags], { stdio: "pipe" });
  }
  built = out;
  return out;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new DevkitError("DEVKIT_PEER_START", "no free port"))));
    });
  });
}

/** A running child process; stop() kills it and waits for exit. */
export interface Peer {
  proc: ChildProcess;
  stop(): Promise<void>;
}

function waitForLine(proc: ChildProcess, what: string, re: RegExp, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const t = setTimeout(() => reject(new DevkitError("DEVKIT_PEER_START", `${what} did not start in ${ms} ms: ${err}`)), ms);
    proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (re.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new DevkitError("DEVKIT_PEER_START", `${what} exited with ${code}: ${err}`));
    });
  });
}

// Peers never outlive the test process, even when a test fails before its after() hook runs.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

function peer(proc: ChildProcess): Peer {
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  return {
    proc,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await done;
    },
  };
}

/** Starts the libmodbus TCP server on `port`, answering only the given unit ids. */
export async function startTcpServer(port: number, units: number[]): Promise<Peer> {
  const { tcpServer } = buildPeers();
  const proc = spawn(tcpServer, [String(port), units.join(",")], { stdio: ["ignore", "pipe", "pipe"] });
  await waitForLine(proc, "libmodbus TCP server", /ready/);
  return peer(proc);
}

/** A socat pty pair: `a` and `b` are symlinks to the two ends. */
export async function startPtyPair(dir: string): Promise<Peer & { a: string; b: string }> {
  need("socat", "socat");
  const a = join(dir, "ttyA");
  const b = join(dir, "ttyB");
  const proc = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ["ignore", "ignore", "pipe"] });
  for (let i = 0; i < 200 && !(existsSync(a) && existsSync(b)); i++) await sleep(25);
  if (!(existsSync(a) && existsSync(b))) throw new DevkitError("DEVKIT_PEER_START", "socat did not create the pty pair");
  return { ...peer(proc), a, b };
}

/** Starts the libmodbus RTU slave on a serial device. */
export async function startRtuSlave(device: string, baud: number, slaveId: number): Promise<Peer> {
  const { rtuSlave } = buildPeers();
  const proc = spawn(rtuSlave, [device, String(baud), String(slaveId)], { stdio: ["ignore", "pipe", "pipe"] });
  await waitForLine(proc, "libmodbus RTU slave", /ready/);
  return peer(proc);
}

/** Runs mbpoll (an independent Modbus master) once, PDU addressing (-0). */
export function mbpoll(args: string[]): string {
  need("mbpoll", "mbpoll");
  return execFileSync("mbpoll", ["-1", "-0", ...args], { encoding: "utf8", timeout: 10_000 });
}
