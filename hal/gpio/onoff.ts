import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SourceError } from "../../kernel/errors.js";
import type { GpioBackend, GpioInput } from "./backend.js";

interface OnoffGpio {
  readSync(): number;
  watch(cb: (err: Error | null | undefined, value: number) => void): void;
  unwatch(cb?: (err: Error | null | undefined, value: number) => void): void;
  unexport(): void;
}
interface OnoffModule {
  Gpio: { accessible: boolean; new (gpio: number, direction: "in", edge: "rising" | "falling" | "both"): OnoffGpio };
}

/**
 * The sysfs number range of a chip: since Linux 6.6 (Raspberry Pi kernels) a chip's sysfs numbers
 * start at a dynamic base (512 and up), so the config's line offset becomes base + offset. The sysfs
 * class device hangs below the chip's device: <sys>/bus/gpio/devices/<chip>/gpio/gpiochip<base>/.
 */
export function sysfsRange(chip: string, sysRoot = "/sys"): { base: number; ngpio: number } {
  const dir = join(sysRoot, "bus/gpio/devices", chip, "gpio");
  let entry: string | undefined;
  try {
    entry = readdirSync(dir).find((n) => n.startsWith("gpiochip"));
  } catch {
    entry = undefined;
  }
  if (!entry) {
    throw new SourceError("GPIO_CHIP_MISSING", `GPIO chip ${chip}: no ${dir}/gpiochip*: check \`chip\` in the config (ls /sys/bus/gpio/devices) or use backend chardev`);
  }
  const num = (f: string) => Number(readFileSync(join(dir, entry, f), "utf8").trim());
  return { base: num("base"), ngpio: num("ngpio") };
}

/** onoff exports lines through <sys>/class/gpio/export: refuse clearly where that cannot work. */
export function checkSysfsWritable(sysRoot = "/sys"): void {
  const exp = join(sysRoot, "class/gpio/export");
  try {
    accessSync(exp, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EROFS") {
      throw new SourceError("GPIO_SYSFS_READONLY", `GPIO: ${exp} is on a read-only /sys (the service unit's ProtectSystem=strict/ProtectKernelTunables=yes): onoff cannot export lines there; use backend: chardev`);
    }
    if (code === "EACCES" || code === "EPERM") {
      throw new SourceError("GPIO_PERMISSION", `GPIO: ${exp} is not writable for this user: onoff needs write access to sysfs; use backend: chardev`);
    }
    throw new SourceError("GPIO_UNAVAILABLE", `GPIO is not accessible on this machine (no ${exp}: the kernel has no sysfs GPIO): check the kernel and the device tree, or use backend: chardev; \`backend: fake\` is for tests only`);
  }
}

/**
 * GPIO through onoff (sysfs), only where /sys is writable (not under the service unit). The config's
 * line is the offset on `chip`; the chip's sysfs base is added here. Never falls back to the fake.
 */
export async function onoffBackend(chip: string, sysRoot = "/sys"): Promise<GpioBackend> {
  checkSysfsWritable(sysRoot);
  const { base, ngpio } = sysfsRange(chip, sysRoot);
  const mod = (await import("onoff")) as unknown as OnoffModule & { default?: OnoffModule };
  const Gpio = (mod.Gpio ?? mod.default?.Gpio);
  return {
    name: "onoff",
    open(line, edge): GpioInput {
      if (line >= ngpio) {
        throw new SourceError("GPIO_LINE_INVALID", `GPIO line ${line} of ${chip}: the chip has lines 0..${ngpio - 1} (sysfs ${base}..${base + ngpio - 1}): the config's line is the offset on the chip`);
      }
      const g = new Gpio(base + line, "in", edge);
      return {
        read: () => (g.readSync() ? 1 : 0),
        watch: (fn) => {
          const cb = (err: Error | null | undefined, value: number) => {
            if (!err) fn(value ? 1 : 0);
          };
          g.watch(cb);
          return () => g.unwatch(cb);
        },
        close: () => g.unexport(),
      };
    },
  };
}
