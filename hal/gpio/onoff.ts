import { accessSync, constants, readdirSync, readFileSync, realpathSync } from "node:fs";
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
 * class device `gpiochip<base>` hangs below the chip's parent device, next to the chip itself:
 * <sys>/bus/gpio/devices/<chip> -> …/<parent>/<chip>, and …/<parent>/gpio/gpiochip<base>/{base,ngpio}
 * (below the chip itself when it has no parent).
 */
export function sysfsRange(chip: string, sysRoot = "/sys"): { base: number; ngpio: number } {
  const link = join(sysRoot, "bus/gpio/devices", chip);
  const found: string[] = [];
  try {
    const dev = realpathSync(link);
    for (const dir of [join(dev, "..", "gpio"), join(dev, "gpio")]) {
      try {
        found.push(...readdirSync(dir).filter((n) => n.startsWith("gpiochip")).map((n) => join(dir, n)));
      } catch {
        // not this layout
      }
    }
  } catch {
    // no such chip
  }
  if (found.length !== 1 || !found[0]) {
    const why = found.length === 0 ? `no sysfs GPIO directory next to ${link}` : `its device has ${found.length} sysfs GPIO chips (${found.join(", ")}), so the base is ambiguous`;
    throw new SourceError("GPIO_CHIP_MISSING", `GPIO chip ${chip}: ${why}: check \`chip\` in the config (ls /sys/bus/gpio/devices) or use backend chardev`);
  }
  const dir = found[0];
  const num = (f: string) => Number(readFileSync(join(dir, f), "utf8").trim());
  return { base: num("base"), ngpio: num("ngpio") };
}

/**
 * The options of the mount a path lives on, from /proc/self/mountinfo (the longest mount point that
 * contains the path; of equal ones the last, which is the one on top).
 */
function mountOptions(path: string): string[] {
  let best: { point: string; opts: string[] } | null = null;
  for (const l of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = l.split(" ");
    const point = f[4];
    if (point === undefined || f[5] === undefined) continue;
    const inside = point === "/" || path === point || path.startsWith(`${point}/`);
    if (inside && (!best || point.length >= best.point.length)) best = { point, opts: f[5].split(",") };
  }
  return best?.opts ?? [];
}

const realpathOr = (p: string): string => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

/** onoff exports lines through <sys>/class/gpio/export: refuse clearly where that cannot work. */
export function checkSysfsWritable(sysRoot = "/sys"): void {
  const exp = join(sysRoot, "class/gpio/export");
  // Checked first: for a user without write permission the kernel answers EACCES before EROFS, and
  // the read-only /sys of the service unit is the reason that matters (and no group can fix it).
  if (mountOptions(realpathOr(exp)).includes("ro")) {
    throw new SourceError("GPIO_SYSFS_READONLY", `GPIO: ${exp} is on a read-only /sys (the service unit's ProtectSystem=strict/ProtectKernelTunables=yes): onoff cannot export lines there; use backend: chardev`);
  }
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
