import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { TpmError } from "../../kernel/errors.js";

/**
 * DEVELOPMENT AND TESTS ONLY: tpm2-abrmd (the user-space TPM resource manager) on a private D-Bus in
 * front of an swtpm, standing in for the kernel's /dev/tpmrm0. Needed whenever two TPM clients share
 * one swtpm, e.g. ESAPI (koffi) signing and the tpm2 OpenSSL provider doing TLS in one gateway.
 */
export interface RunningTabrmd {
  /** TCTI for clients, e.g. `tabrmd:bus_name=com.intel.tss2.Tabrmd.otgw1,bus_type=session`. */
  readonly tcti: string;
  /** The private bus; clients need it as DBUS_SESSION_BUS_ADDRESS (this process's env is set). */
  readonly busAddress: string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
let hooked = false;
let seq = 0;

function track(p: ChildProcess): Promise<void> {
  children.add(p);
  if (!hooked) {
    hooked = true;
    process.once("exit", () => { for (const c of children) c.kill("SIGKILL"); });
  }
  return new Promise((r) => p.once("exit", () => { children.delete(p); r(); }));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Bus { address: string; users: number; stop: () => Promise<void> }
let shared: Promise<Bus> | undefined;

/** One private session bus per process, shared by every tpm2-abrmd this process starts. */
function acquireBus(dir: string): Promise<Bus> {
  shared ??= (async () => {
    const address = `unix:path=${join(dir, "bus")}`;
    const bus = spawn("dbus-daemon", ["--session", "--nofork", "--nopidfile", `--address=${address}`], { stdio: ["ignore", "ignore", "pipe"] });
    bus.once("error", () => undefined);
    const busExit = track(bus);
    for (let i = 0; i < 100 && bus.exitCode === null && !existsSync(join(dir, "bus")); i++) await sleep(20);
    if (bus.exitCode !== null || bus.pid === undefined) throw new TpmError("TABRMD_START", "dbus-daemon did not start: apt-get install dbus");
    // The TCTI library connects through the bus named in the environment (GDBus reads it on connect).
    process.env.DBUS_SESSION_BUS_ADDRESS = address;
    return { address, users: 0, stop: async () => { bus.kill("SIGTERM"); await busExit; } };
  })();
  return shared;
}

async function releaseBus(b: Bus): Promise<void> {
  if (--b.users > 0) return;
  shared = undefined;
  await b.stop();
}

/** Starts tpm2-abrmd for `swtpmTcti` on this process's private session bus (started on first use). */
export async function startTabrmd(dir: string, swtpmTcti: string): Promise<RunningTabrmd> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bus = await acquireBus(dir);
  bus.users++;
  const busAddress = bus.address;
  const name = `com.intel.tss2.Tabrmd.otgw${process.pid}x${++seq}`;
  let log = "";
  const rm = spawn("tpm2-abrmd", ["--session", "--allow-root", "--flush-all", `--dbus-name=${name}`, `--tcti=${swtpmTcti}`], {
    stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: busAddress },
  });
  rm.once("error", () => undefined);
  rm.stdout?.on("data", (d: Buffer) => { log += d.toString(); });
  rm.stderr?.on("data", (d: Buffer) => { log += d.toString(); });
  const rmExit = track(rm);
  const tcti = `tabrmd:bus_name=${name},bus_type=session`;
  const { Esys } = await import("./esys.js");
  let ready = false;
  for (let i = 0; i < 150 && rm.exitCode === null && !ready; i++) {
    await sleep(40);
    try {
      const e = Esys.open(tcti);
      await e.close();
      ready = true;
    } catch { /* not yet on the bus */ }
  }
  const stop = async (): Promise<void> => {
    rm.kill("SIGTERM");
    await rmExit;
    await releaseBus(bus);
  };
  if (!ready) {
    await stop();
    throw new TpmError("TABRMD_START", `tpm2-abrmd did not come up on ${swtpmTcti}: ${log.trim() || "no output"} (apt-get install tpm2-abrmd libtss2-tcti-tabrmd0)`);
  }
  return { tcti, busAddress, stop };
}
