// Runs inside the QEMU arm64 guest under the gateway's sandbox (otgw-gpio-probe.service, derived
// from image/units/otgw.service by image/gpio-qemu.sh). Output contract, one line each, parsed by
// test/image/gpio-qemu.test.ts:  OTGW-GPIO <check> <json>
import { readFileSync, statSync, writeFileSync } from "node:fs";

const dist = "/opt/otgw/dist";
const out = (check, v) => console.log(`OTGW-GPIO ${check} ${JSON.stringify(v)}`);
const status = readFileSync("/proc/self/status", "utf8");
const field = (n) => new RegExp(`^${n}:\\s*(.*)$`, "m").exec(status)?.[1] ?? null;
// The last /sys entry is the one on top (the unit's read-only bind mount over the kernel's sysfs).
const sysMount = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.split(" ")[4] === "/sys").at(-1);
const groupName = (gid) => readFileSync("/etc/group", "utf8").split("\n").find((l) => l.split(":")[2] === String(gid))?.split(":")[0] ?? null;
const chipNode = statSync("/dev/gpiochip0");
let sysWrite;
try {
  writeFileSync("/sys/class/gpio/export", "3");
  sysWrite = "written";
} catch (e) {
  sysWrite = e.code;
}
out("sandbox", {
  user: process.env.USER ?? null, uid: process.getuid(), groups: process.getgroups().map(groupName),
  chipNode: { group: groupName(chipNode.gid), mode: (chipNode.mode & 0o777).toString(8) }, noNewPrivs: field("NoNewPrivs"), capEff: field("CapEff"),
  seccomp: field("Seccomp"), sysMountOptions: sysMount?.split(" ")[5] ?? null, sysfsExport: sysWrite,
  invocation: process.env.INVOCATION_ID ?? null, arch: process.arch,
});

// The mounts the sandbox is made of (mount point, per-mount options, fs type), for the log.
const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")).filter((f) => ["/", "/usr", "/sys", "/proc/sys", "/var/lib/otgw", "/dev"].includes(f[4] ?? ""))
  .map((f) => `${f[4]} ${f[5]} ${f[f.indexOf("-") + 1]}`);
out("mounts", mounts);

const { chardevBackend, openChip } = await import(`${dist}/hal/gpio/chardev.js`);
const { info } = openChip("gpiochip0");
out("chip", info);

// The gateway's own source, built from config exactly as the runtime builds it.
const { createGpioSource } = await import(`${dist}/hal/gpio/index.js`);
const { systemClock } = await import(`${dist}/kernel/clock.js`);
const src = createGpioSource({ id: "button", kind: "gpio", backend: "chardev", chip: "gpiochip0", lines: [{ line: 3, edge: "both", debounceMs: 0, activeLow: false, tamper: false }] }, systemClock, undefined);
const got = [];
await src.start((r) => got.push({ address: r.address, value: r.value, quality: r.quality }));
out("source", { health: src.health(), readings: got, uri: src.uriFor("3") });

// While the source holds line 3, a second request is refused with the busy error.
try {
  chardevBackend("gpiochip0").open(3, "both");
  out("busy", { code: null });
} catch (e) {
  out("busy", { code: e.code, message: e.message });
}
try {
  chardevBackend("gpiochip0").open(99, "both");
  out("invalid", { code: null });
} catch (e) {
  out("invalid", { code: e.code, message: e.message });
}
await src.stop();

// onoff under the same sandbox: refused, /sys is read-only here.
const { onoffBackend } = await import(`${dist}/hal/gpio/onoff.js`);
try {
  await onoffBackend("gpiochip0");
  out("onoff-sandboxed", { code: null });
} catch (e) {
  out("onoff-sandboxed", { code: e.code, message: e.message });
}
