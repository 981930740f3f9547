import { closeSync, constants, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { SourceError } from "../../kernel/errors.js";
import type { GpioBackend, GpioInput } from "./backend.js";
import {
  decodeChipInfo, decodeEventLevels, encodeLineRequest, encodeLineValues, IOCTL, lineRequestFd, lineValue, SIZEOF, type ChipInfo,
} from "./uapi.js";

/**
 * GPIO through the kernel's character device (/dev/gpiochipN, uAPI v2; docs/adapters.md "GPIO"): the
 * production backend. The only foreign call is libc's ioctl(2) through koffi (already loaded for the
 * TPM); edges come from the line's fd, watched on the event loop with koffi's uv_poll wrapper. Lines
 * are offsets on the chip, so no sysfs number (and no writable /sys) is involved.
 */

interface KoffiPoll { stop(): void; close(): void; unref(): void }
type Ioctl = (fd: number, request: number, argType: string, arg: Buffer) => number;
interface Koffi {
  load(path: string): { func(definition: string): Ioctl };
  errno(): number;
  os: { errno: Record<string, number> };
  node: { poll(fd: number, opts: { readable: boolean }, cb: (ev: { readable: boolean; disconnect: boolean }) => void): KoffiPoll };
}

const require = createRequire(import.meta.url);
let bound: { koffi: Koffi; ioctl: Ioctl } | undefined;

function bind(): { koffi: Koffi; ioctl: Ioctl } {
  if (bound) return bound;
  try {
    const koffi = require("koffi") as Koffi;
    bound = { koffi, ioctl: koffi.load("libc.so.6").func("int ioctl(int fd, unsigned long request, ...)") };
    return bound;
  } catch (err) {
    throw new SourceError("GPIO_UNAVAILABLE", `cannot bind libc's ioctl through koffi (${(err as Error).message}): run \`npm ci\` in the otgw directory`);
  }
}

/** ioctl(fd, request, buf) on a buffer the kernel reads and writes; returns 0 or the errno name. */
export function ioctlBuffer(fd: number, request: number, buf: Buffer): string | null {
  const { koffi, ioctl } = bind();
  if (ioctl(fd, request, "void *", buf) >= 0) return null;
  const errno = koffi.errno();
  return Object.entries(koffi.os.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
}

const where = (chip: string, offset?: number) => (offset === undefined ? `GPIO chip ${chip}` : `GPIO line ${offset} of ${chip}`);

/** The one-line error for a failed open/ioctl, naming the chip (and line) and what to do. */
function gpioError(code: string, chip: string, offset?: number): SourceError {
  const at = where(chip, offset);
  switch (code) {
    case "ENOENT":
      return new SourceError("GPIO_CHIP_MISSING", `${at}: ${chip} does not exist: check \`chip\` in the config (ls /dev/gpiochip*) and that the kernel has the controller's driver`);
    case "EACCES":
    case "EPERM":
      return new SourceError("GPIO_PERMISSION", `${at}: permission denied: the gateway's user needs the gpio group (udev rule 60-otgw-devices.rules) and the unit's DeviceAllow=char-gpiochip`);
    case "EBUSY":
      return new SourceError("GPIO_LINE_BUSY", `${at}: the line is in use by another consumer (a kernel driver or another process; see gpioinfo): pick a free line or release it`);
    case "ENOTTY":
      return new SourceError("GPIO_NOT_A_CHIP", `${at}: ${chip} is not a GPIO character device (ioctl ENOTTY): point \`chip\` at /dev/gpiochipN`);
    default:
      return new SourceError("GPIO_UNAVAILABLE", `${at}: ${code}: check the chip, the line offset and the kernel log`);
  }
}

/** Opens a chip (a /dev path or a name under /dev) and checks it is one; throws the errors above. */
export function openChip(chip: string): { fd: number; path: string; info: ChipInfo } {
  const path = chip.startsWith("/") ? chip : `/dev/${chip}`;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR) // libuv adds O_CLOEXEC;
  } catch (err) {
    throw gpioError((err as NodeJS.ErrnoException).code ?? "EIO", path);
  }
  const buf = Buffer.alloc(SIZEOF.gpiochip_info);
  const failed = ioctlBuffer(fd, IOCTL.GPIO_GET_CHIPINFO_IOCTL, buf);
  if (failed) {
    closeSync(fd);
    throw gpioError(failed, path);
  }
  return { fd, path, info: decodeChipInfo(buf) };
}

/** The character-device backend for one chip; the chip is opened (and checked) here, lines at open(). */
export function chardevBackend(chip: string, consumer = "otgw"): GpioBackend {
  const { fd: chipFd, path, info } = openChip(chip);
  const { koffi } = bind();
  return {
    name: "chardev",
    open(offset, edge): GpioInput {
      if (offset >= info.lines) {
        throw new SourceError("GPIO_LINE_INVALID", `${where(path, offset)}: the chip (${info.label}) has lines 0..${info.lines - 1}: the config's line is the offset on the chip, not a sysfs number`);
      }
      const req = encodeLineRequest(offset, edge, consumer);
      const failed = ioctlBuffer(chipFd, IOCTL.GPIO_V2_GET_LINE_IOCTL, req);
      if (failed) throw gpioError(failed, path, offset);
      const lineFd = lineRequestFd(req);
      const values = encodeLineValues();
      const events = Buffer.alloc(SIZEOF.gpio_v2_line_event * 16);
      let poll: KoffiPoll | null = null;
      return {
        read: () => {
          const err = ioctlBuffer(lineFd, IOCTL.GPIO_V2_LINE_GET_VALUES_IOCTL, values);
          if (err) throw gpioError(err, path, offset);
          return lineValue(values);
        },
        watch: (fn) => {
          poll = koffi.node.poll(lineFd, { readable: true }, (ev) => {
            if (!ev.readable) return;
            // Readable means at least one whole event is queued, so this read does not block.
            for (const level of decodeEventLevels(events, readSync(lineFd, events))) fn(level);
          });
          poll.unref();
          return () => {
            poll?.close();
            poll = null;
          };
        },
        close: () => {
          poll?.close();
          poll = null;
          closeSync(lineFd);
        },
      };
    },
    close: () => closeSync(chipFd),
  };
}
