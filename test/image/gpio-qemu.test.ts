/**
 * GPIO on a real kernel (issue #13 item 21): image/gpio-qemu.sh boots Debian trixie's arm64 kernel in
 * QEMU's `virt` machine (TCG), whose PL061 GPIO controller is /dev/gpiochip0, and runs the gateway's
 * GPIO code there: as root through onoff (sysfs, the chip's dynamic base applied), and inside the
 * gateway's own service sandbox (image/units/otgw.service, ExecStart swapped) through the chardev
 * backend, reading line 3 (the power button). This host has no GPIO at all (FACTS.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";
import { runLogged } from "./support.js";

void test("arm64 QEMU virt: the sandboxed service reads PL061 line 3 through /dev/gpiochip0; onoff applies the chip base; onoff refused in the sandbox", async (t) => {
  const out = mkdtempSync(join(tmpdir(), "otgw-gpio-qemu-"));
  const log = join(out, "gpio-qemu.log");
  t.diagnostic(`log: ${log}, serial console: ${join(out, "serial.log")}`);
  await runLogged("bash", ["image/gpio-qemu.sh", out], log, repoRoot());
  const text = readFileSync(log, "utf8");
  const line = (check: string): Record<string, unknown> => {
    const l = text.split("\n").find((x) => x.startsWith(`OTGW-GPIO ${check} `));
    assert.ok(l, `no OTGW-GPIO ${check} line (serial log: ${join(out, "serial.log")})`);
    return JSON.parse(l.slice(`OTGW-GPIO ${check} `.length)) as Record<string, unknown>;
  };
  // Inside the sandbox: the otgw user with the gpio group, no capabilities, no new privileges,
  // seccomp on, /sys mounted read-only (writing the sysfs export file fails with EROFS), on arm64.
  const sandbox = line("sandbox") as Record<string, unknown> & { groups: string[]; chipNode: { group: string; mode: string } };
  assert.equal(sandbox.user, "otgw");
  assert.notEqual(sandbox.uid, 0);
  assert.ok(sandbox.groups.includes("gpio"), `groups ${sandbox.groups.join(",")}`);
  // udev's 60-otgw-devices.rules gave the chip to the gpio group; that is how the service opens it.
  assert.deepEqual(sandbox.chipNode, { group: "gpio", mode: "660" });
  assert.equal(sandbox.arch, "arm64");
  assert.equal(sandbox.noNewPrivs, "1");
  assert.equal(sandbox.capEff, "0000000000000000");
  assert.equal(sandbox.seccomp, "2");
  // Writing the sysfs export file is refused: EACCES for the otgw user (root-only file), EROFS where
  // /sys is mounted read-only. Measured in this boot (systemd 257, root on the initramfs): / and
  // /proc/sys are read-only in the sandbox, /sys itself is not (logged, not asserted).
  assert.ok(sandbox.sysfsExport === "EACCES" || sandbox.sysfsExport === "EROFS", String(sandbox.sysfsExport));
  t.diagnostic(`sandbox /sys mount options: ${String(sandbox.sysMountOptions)}`);
  const mounts = line("mounts") as unknown as string[];
  t.diagnostic(`sandbox mounts: ${mounts.join(" | ")}`);
  assert.ok(mounts.some((m) => /^\/ ro[, ]/.test(m)), "ProtectSystem=strict: / is read-only");
  assert.ok(mounts.some((m) => /^\/proc\/sys ro[, ]/.test(m)), "ProtectKernelTunables=yes: /proc/sys is read-only");
  assert.equal(typeof sandbox.invocation, "string", "ran as a systemd service");
  const chip = line("chip");
  assert.equal(chip.name, "gpiochip0");
  assert.equal(chip.lines, 8, "PL061 has 8 lines");
  // The gateway's GpioSource on the chardev backend, in the sandbox: running, one good reading of line 3.
  const source = line("source") as { health: { state: string; detail: string | null }; readings: { address: string; value: boolean; quality: string }[]; uri: string };
  assert.equal(source.health.state, "running", source.health.detail ?? "");
  assert.equal(source.readings.length, 1);
  assert.equal(source.readings[0]!.address, "3");
  assert.equal(typeof source.readings[0]!.value, "boolean");
  assert.equal(source.readings[0]!.quality, "good");
  assert.equal(source.uri, "gpio://gpiochip0/3");
  // Kernel-side errors map to the documented codes.
  assert.equal(line("busy").code, "GPIO_LINE_BUSY");
  assert.equal(line("invalid").code, "GPIO_LINE_INVALID");
  // onoff cannot work in the sandbox either way: refused with the read-only or the permission error.
  const sandboxedOnoff = line("onoff-sandboxed");
  assert.ok(sandboxedOnoff.code === "GPIO_SYSFS_READONLY" || sandboxedOnoff.code === "GPIO_PERMISSION", String(sandboxedOnoff.message));
  // Outside the sandbox, as root: onoff finds the chip's dynamic sysfs base (512+ on 6.x) and reads base + 3.
  const onoff = line("onoff");
  assert.equal(onoff.code, undefined, String(onoff.message));
  assert.ok(Number(onoff.base) >= 512, `base ${String(onoff.base)}`);
  assert.equal(onoff.sysfsNumber, Number(onoff.base) + 3);
  assert.ok(onoff.level === 0 || onoff.level === 1);
  const timing = text.split("\n").find((l) => l.startsWith("gpio-qemu: "));
  assert.ok(timing, "the script's summary line is missing");
  t.diagnostic(timing);
  rmSync(join(out, "root"), { recursive: true, force: true });
  rmSync(join(out, "initrd.cpio"), { force: true });
});
