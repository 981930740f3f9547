import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { systemClock } from "../../kernel/clock.js";
import { silentLogger } from "../../kernel/log.js";
import { SourceError } from "../../kernel/errors.js";
import { createSources } from "../../hal/registry.js";
import { chardevBackend, ioctlBuffer } from "../../hal/gpio/chardev.js";
import { sysfsRange } from "../../hal/gpio/onoff.js";
import { GPIO_V2_LINE_FLAG, IOCTL, OFFSETOF, SIZEOF, encodeLineRequest } from "../../hal/gpio/uapi.js";
import type { RawReading } from "../../hal/source.js";
import { fieldConfig, pointsFor } from "../../devkit/dev-plant/field-config.js";

// This host has no GPIO at all (FACTS.md): what is proven here is the binding (layouts against the
// kernel's own header, ioctl through koffi writing back into the buffer) and the error paths. The
// reads on a real chip are proven in the arm64 QEMU boot (test/image/gpio-qemu.test.ts).

const tmp = () => mkdtempSync(join(tmpdir(), "otgw-gpio-"));

void test("uapi: sizes, offsets, flags and ioctl numbers match the host's <linux/gpio.h>", () => {
  const dir = tmp();
  try {
    const fields = Object.keys(OFFSETOF).map((k) => {
      const [, struct, field] = /^(gpiochip_info|gpio_v2_line_request|gpio_v2_line_values|gpio_v2_line_event)_(.+)$/.exec(k) ?? [];
      assert.ok(struct && field, k);
      return `printf("\\"${k}\\": %zu,\\n", offsetof(struct ${struct}, ${field.replace("config_flags", "config.flags")}));`;
    });
    const sizes = Object.keys(SIZEOF).map((s) => `printf("\\"${s}\\": %zu,\\n", sizeof(struct ${s}));`);
    const ioctls = Object.keys(IOCTL).map((n) => `printf("\\"${n}\\": %lu,\\n", (unsigned long)${n});`);
    const flags = Object.keys(GPIO_V2_LINE_FLAG).map((f) => `printf("\\"${f}\\": %llu,\\n", (unsigned long long)GPIO_V2_LINE_FLAG_${f});`);
    writeFileSync(join(dir, "probe.c"), [
      "#include <stdio.h>", "#include <stddef.h>", "#include <linux/gpio.h>", "int main(void) {", 'printf("{\\n");',
      ...fields, ...sizes, ...ioctls, ...flags, 'printf("\\"end\\": 0}\\n");', "return 0; }",
    ].join("\n"));
    execFileSync("gcc", ["-Wall", "-Werror", "-o", join(dir, "probe"), join(dir, "probe.c")]);
    const c = JSON.parse(execFileSync(join(dir, "probe"), { encoding: "utf8" })) as Record<string, number>;
    const ts: Record<string, number> = { ...OFFSETOF, ...SIZEOF, ...IOCTL, end: 0 };
    for (const [f, v] of Object.entries(GPIO_V2_LINE_FLAG)) ts[f] = Number(v);
    assert.deepEqual(ts, c);
    // The request encoder puts the fields where the header says.
    const req = encodeLineRequest(3, "both", "otgw");
    assert.equal(req.length, c.gpio_v2_line_request);
    assert.equal(req.readUInt32LE(c.gpio_v2_line_request_offsets), 3);
    assert.equal(req.subarray(c.gpio_v2_line_request_consumer, c.gpio_v2_line_request_consumer! + 4).toString(), "otgw");
    assert.equal(req.readBigUInt64LE(c.gpio_v2_line_request_config_flags), GPIO_V2_LINE_FLAG.INPUT | GPIO_V2_LINE_FLAG.EDGE_RISING | GPIO_V2_LINE_FLAG.EDGE_FALLING);
    assert.equal(req.readUInt32LE(c.gpio_v2_line_request_num_lines), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("ioctl through koffi: the kernel writes into the buffer (FIONREAD on a file), errors come back by name", () => {
  const dir = tmp();
  const file = join(dir, "f");
  writeFileSync(file, Buffer.alloc(1234));
  const fd = openSync(file, "r");
  try {
    const out = Buffer.alloc(4);
    assert.equal(ioctlBuffer(fd, 0x541b /* FIONREAD, asm-generic */, out), null);
    assert.equal(out.readInt32LE(0), 1234);
    // A regular file is no GPIO chip: the kernel answers ENOTTY.
    assert.equal(ioctlBuffer(fd, IOCTL.GPIO_GET_CHIPINFO_IOCTL, Buffer.alloc(SIZEOF.gpiochip_info)), "ENOTTY");
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("chardev errors name the chip and say what to do: missing chip, not a chip, permission denied", async () => {
  assert.throws(() => chardevBackend("/dev/null"), (e: unknown) => e instanceof SourceError && e.code === "GPIO_NOT_A_CHIP" && /\/dev\/null is not a GPIO character device/.test(e.message));
  assert.throws(() => chardevBackend("gpiochip9"), (e: unknown) => e instanceof SourceError && e.code === "GPIO_CHIP_MISSING" && /\/dev\/gpiochip9 does not exist/.test(e.message));
  // Through the config (backend defaults to chardev): the source fails visibly and the process runs on.
  const { config } = fieldConfig({ sources: [{ id: "di", kind: "gpio", chip: "gpiochip9", lines: [{ line: 3 }] }], points: pointsFor("di", ["3"]) });
  const [src] = await createSources(config, systemClock, silentLogger());
  const got: RawReading[] = [];
  await src!.start((r) => got.push(r));
  assert.equal(src!.health().state, "failed");
  assert.match(src!.health().detail ?? "", /GPIO chip \/dev\/gpiochip9: \/dev\/gpiochip9 does not exist: check `chip` in the config/);
  assert.equal(got.length, 0);
  await src!.stop();
  // EACCES: a chip node the gateway's user may not open (run as nobody).
  const dir = tmp();
  chmodSync(dir, 0o755);
  const node = join(dir, "gpiochip0");
  writeFileSync(node, "");
  chmodSync(node, 0o600);
  try {
    const mod = fileURLToPath(new URL("../../hal/gpio/chardev.js", import.meta.url));
    const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e",
      `const m = await import(${JSON.stringify(mod)}); try { m.chardevBackend(${JSON.stringify(node)}); } catch (e) { console.log(e.code + " " + e.message); }`], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^GPIO_PERMISSION GPIO chip .*gpiochip0: permission denied: the gateway's user needs the gpio group/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("onoff: the config's line is the offset on the chip, the chip's sysfs base (512+ since 6.6) is added", () => {
  const sys = tmp();
  try {
    // The layout of Linux 6.12 (seen in the QEMU proof): the class device gpiochip<base> sits below the
    // chip's parent device, next to the gpio_device gpiochipN that /sys/bus/gpio/devices links to.
    const parent = join(sys, "devices/platform/9030000.pl061");
    mkdirSync(join(parent, "gpiochip0"), { recursive: true });
    mkdirSync(join(parent, "gpio/gpiochip512"), { recursive: true });
    writeFileSync(join(parent, "gpio/gpiochip512/base"), "512\n");
    writeFileSync(join(parent, "gpio/gpiochip512/ngpio"), "8\n");
    mkdirSync(join(sys, "bus/gpio/devices"), { recursive: true });
    symlinkSync("../../../devices/platform/9030000.pl061/gpiochip0", join(sys, "bus/gpio/devices/gpiochip0"));
    assert.deepEqual(sysfsRange("gpiochip0", sys), { base: 512, ngpio: 8 });
    assert.throws(() => sysfsRange("gpiochip1", sys), (e: unknown) => e instanceof SourceError && e.code === "GPIO_CHIP_MISSING" && /no sysfs GPIO directory/.test(e.message));
    // A device with two chips: the base cannot be told apart, so onoff refuses rather than guess.
    mkdirSync(join(parent, "gpio/gpiochip520"), { recursive: true });
    assert.throws(() => sysfsRange("gpiochip0", sys), (e: unknown) => e instanceof SourceError && /ambiguous/.test(e.message));
  } finally {
    rmSync(sys, { recursive: true, force: true });
  }
});

void test("onoff refuses a read-only /sys (as under the service unit) with a clear message", () => {
  // A real read-only bind mount (superblock writable, the mount not) in a private mount namespace: what
  // systemd's ProtectKernelTunables=yes makes of /sys.
  const mod = fileURLToPath(new URL("../../hal/gpio/onoff.js", import.meta.url));
  const script = `const m = await import(${JSON.stringify(mod)}); try { await m.onoffBackend("gpiochip0", process.argv[1]); console.log("opened"); } catch (e) { console.log(e.code + " " + e.message); }`;
  // As root (EROFS) and as an unprivileged user like the service's, for whom the kernel answers EACCES
  // before EROFS: both must be told that /sys is read-only, which no group membership can fix.
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-ec",
    `d=$(mktemp -d); mount -t tmpfs -o mode=0755 none "$d"; mkdir -p "$d/class/gpio"; : > "$d/class/gpio/export"; mount --bind "$d" "$d"; mount -o remount,bind,ro "$d"; "$0" --input-type=module -e '${script}' "$d"; setpriv --reuid=65534 --regid=65534 --clear-groups "$0" --input-type=module -e '${script}' "$d"`,
    process.execPath], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 2, r.stdout);
  for (const l of lines) assert.match(l, /^GPIO_SYSFS_READONLY GPIO: .*\/class\/gpio\/export is on a read-only \/sys .* use backend: chardev/);
});
