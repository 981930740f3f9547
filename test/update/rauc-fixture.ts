/**
 * Real RAUC on the host for the update tests: a release key, bundles made with `rauc bundle`, and a
 * `rauc service` on a private D-Bus system bus whose two root slots are plain files and whose
 * bootloader backend is the image's own script over a directory standing in for the ESP.
 * Bundles installed here are `plain` (this host's kernel has no device-mapper, which `verity` bundles
 * need to be mounted); `verity` bundles are checked with `rauc info` (signature, manifest).
 * A missing rauc, dbus-daemon or openssl fails the test: it never skips.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";

export const SLOT_BYTES = 1 << 20;
export const BACKEND = (): string => join(repoRoot(), "image", "overlay", "usr", "lib", "otgw", "rauc-bootloader");
export const HOOK = (): string => join(repoRoot(), "image", "rauc", "hook.sh");

/** Throws (failing the test) when a tool the update tests need is not installed. */
export function requireTools(): void {
  for (const [tool, pkg] of [["rauc", "rauc"], ["dbus-daemon", "dbus"], ["openssl", "openssl"], ["mksquashfs", "squashfs-tools"]] as const) {
    const r = spawnSync("sh", ["-c", `command -v ${tool}`]);
    if (r.status !== 0) throw new Error(`${tool} is not installed: the update tests need it (apt-get install ${pkg}; image/setup-host.sh installs rauc)`);
  }
}

export interface ReleaseKey {
  readonly key: string;
  readonly cert: string;
}

/** A self-signed P-256 release key and certificate (what the build makes for CI). */
export function releaseKey(dir: string, name: string): ReleaseKey {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, `${name}.key.pem`);
  const cert = join(dir, `${name}.cert.pem`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
    "-subj", `/CN=otgw test release ${name}`, "-keyout", key, "-out", cert], { stdio: "pipe" });
  return { key, cert };
}

export interface BundleSpec {
  readonly version: string;
  readonly compatible?: string;
  readonly format?: "plain" | "verity";
  readonly signer: ReleaseKey;
  /** The root slot's payload (a squashfs in real bundles; any bytes do for a raw slot). */
  readonly payload: Buffer;
}

/** Builds a bundle the way image/lib/bundle.sh does (rootfs.img, the kernel, the slot hook). */
export function makeBundle(dir: string, name: string, spec: BundleSpec): string {
  const src = join(dir, `${name}.d`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "rootfs.img"), spec.payload);
  writeFileSync(join(src, "vmlinuz"), `kernel of ${spec.version}\n`);
  writeFileSync(join(src, "initrd.img"), `initramfs of ${spec.version}\n`);
  writeFileSync(join(src, "version"), `${spec.version}\n`);
  writeFileSync(join(src, "cmdline"), "rootfstype=squashfs ro rootwait\n");
  writeFileSync(join(src, "root-a"), "6f746777-0000-4d00-8000-000000000003\n");
  writeFileSync(join(src, "root-b"), "6f746777-0000-4d00-8000-000000000006\n");
  execFileSync("install", ["-m", "0755", HOOK(), join(src, "hook.sh")]);
  writeFileSync(join(src, "manifest.raucm"), [
    "[update]", `compatible=${spec.compatible ?? "otgw-amd64"}`, `version=${spec.version}`, "",
    "[bundle]", `format=${spec.format ?? "plain"}`, "",
    "[hooks]", "filename=hook.sh", "",
    "[image.rootfs]", "filename=rootfs.img", "hooks=post-install", "",
  ].join("\n"));
  const out = join(dir, `${name}.raucb`);
  execFileSync("rauc", ["bundle", `--cert=${spec.signer.cert}`, `--key=${spec.signer.key}`, src, out], { stdio: "pipe" });
  return out;
}

export interface RaucSystem {
  readonly config: string;
  readonly env: Record<string, string>;
  readonly slotA: string;
  readonly slotB: string;
  readonly esp: string;
  readonly entries: string;
  /** The RAUC service's output so far (for failure messages). */
  log(): string;
  /** Restarts RAUC's service as if the machine had booted `bootname` (what rauc.slot= says on the image). */
  reboot(bootname: string): Promise<void>;
  stop(): Promise<void>;
}

/** A RAUC system: slots A (booted) and B as files, keyring = `keyring`, the image's backend script. */
export async function startRaucSystem(dir: string, keyring: string): Promise<RaucSystem> {
  mkdirSync(dir, { recursive: true });
  const esp = join(dir, "esp");
  const entries = join(esp, "loader", "entries");
  mkdirSync(entries, { recursive: true });
  // The ESP as the image build writes it (image/lib/assemble.sh): A blessed and primary, B empty.
  writeFileSync(join(entries, "otgw-a.conf"), "title otgw gateway (slot a)\nsort-key otgw-1\nlinux /otgw/a/vmlinuz\n");
  writeFileSync(join(entries, "otgw-b+0.conf"), "title otgw gateway (slot b, empty)\nsort-key otgw-2\nlinux /otgw/b/vmlinuz\n");
  const slotA = join(dir, "slot-a.img");
  const slotB = join(dir, "slot-b.img");
  writeFileSync(slotA, Buffer.alloc(SLOT_BYTES));
  writeFileSync(slotB, Buffer.alloc(SLOT_BYTES));
  const config = join(dir, "system.conf");
  writeFileSync(config, [
    "[system]", "compatible=otgw-amd64", "bootloader=custom", `statusfile=${join(dir, "central.raucs")}`, "",
    "[handlers]", `bootloader-custom-backend=${BACKEND()}`, "",
    "[keyring]", `path=${keyring}`, "",
    "[slot.rootfs.0]", `device=${slotA}`, "type=raw", "bootname=a", "",
    "[slot.rootfs.1]", `device=${slotB}`, "type=raw", "bootname=b", "",
  ].join("\n"));
  const sock = join(dir, "system_bus.sock");
  writeFileSync(join(dir, "dbus.conf"), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=${sock}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>
`);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${sock}`, OTGW_ESP: esp };
  let out = "";
  const procs: ChildProcess[] = [];
  const track = (p: ChildProcess): ChildProcess => {
    p.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    procs.push(p);
    return p;
  };
  track(spawn("dbus-daemon", ["--config-file", join(dir, "dbus.conf"), "--nofork"], { stdio: ["ignore", "pipe", "pipe"] }));
  await until(() => existsSync(sock), "the private D-Bus system bus", () => out);
  // Its own mount prefix, so that parallel tests (or a host RAUC) never share /mnt/rauc.
  const mounts = join(dir, "mnt");
  mkdirSync(mounts, { recursive: true });
  const stopProc = async (p: ChildProcess): Promise<void> => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await gone;
  };
  const startService = async (bootname: string): Promise<ChildProcess> => {
    const p = track(spawn("rauc", ["service", "-c", config, `--mount=${mounts}`, `--override-boot-slot=${bootname}`], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } }));
    await until(() => spawnSync("rauc", ["-c", config, "status"], { env: { ...process.env, ...env } }).status === 0, "rauc service on the private bus", () => out);
    return p;
  };
  let service = await startService("a");
  return {
    config, env, slotA, slotB, esp, entries, log: () => out,
    reboot: async (bootname) => {
      await stopProc(service);
      service = await startService(bootname);
    },
    stop: async () => {
      for (const p of procs.reverse()) await stopProc(p);
    },
  };
}

/** Polls until `cond` holds; a guard against hanging (60 s), not a speed limit. */
async function until(cond: () => boolean, what: string, log: () => string): Promise<void> {
  const end = Date.now() + 60_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} did not come up: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
