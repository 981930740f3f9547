/**
 * The kernel's GPIO character-device uAPI v2 (<linux/gpio.h>, stable since Linux 5.10): the struct
 * sizes, field offsets, flags and ioctl numbers the chardev backend needs, and the byte codecs for
 * the two structs it fills in. Nothing here touches a device. test/hal/gpio-uapi.test.ts compiles a
 * C program against the host's <linux/gpio.h> and compares every number below with it. The ioctl
 * encoding (asm-generic/ioctl.h) and these layouts are the same on x86_64 and arm64.
 */

export const GPIO_MAX_NAME_SIZE = 32;
export const GPIO_V2_LINES_MAX = 64;

/** sizeof() of the structs that cross the boundary. */
export const SIZEOF = {
  gpiochip_info: 68,
  gpio_v2_line_request: 592,
  gpio_v2_line_values: 16,
  gpio_v2_line_event: 48,
} as const;

/** offsetof() of the fields that are read or written. */
export const OFFSETOF = {
  gpiochip_info_name: 0,
  gpiochip_info_label: 32,
  gpiochip_info_lines: 64,
  gpio_v2_line_request_offsets: 0,
  gpio_v2_line_request_consumer: 256,
  gpio_v2_line_request_config_flags: 288,
  gpio_v2_line_request_num_lines: 560,
  gpio_v2_line_request_fd: 588,
  gpio_v2_line_values_bits: 0,
  gpio_v2_line_values_mask: 8,
  gpio_v2_line_event_timestamp_ns: 0,
  gpio_v2_line_event_id: 8,
  gpio_v2_line_event_offset: 12,
} as const;

export const GPIO_V2_LINE_FLAG = {
  INPUT: 1n << 2n,
  EDGE_RISING: 1n << 4n,
  EDGE_FALLING: 1n << 5n,
} as const;

export const GPIO_V2_LINE_EVENT = { RISING_EDGE: 1, FALLING_EDGE: 2 } as const;

/** _IOC(dir, type, nr, size) from asm-generic/ioctl.h (dir: 2 = read, 3 = read|write). */
function ioc(dir: 2 | 3, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (0xb4 << 8) | nr) >>> 0;
}

export const IOCTL = {
  GPIO_GET_CHIPINFO_IOCTL: ioc(2, 0x01, SIZEOF.gpiochip_info),
  GPIO_V2_GET_LINE_IOCTL: ioc(3, 0x07, SIZEOF.gpio_v2_line_request),
  GPIO_V2_LINE_GET_VALUES_IOCTL: ioc(3, 0x0e, SIZEOF.gpio_v2_line_values),
} as const;

export interface ChipInfo { name: string; label: string; lines: number }

const cString = (b: Buffer, at: number, max: number): string => {
  const s = b.subarray(at, at + max);
  const end = s.indexOf(0);
  return s.subarray(0, end < 0 ? max : end).toString("utf8");
};

export function decodeChipInfo(b: Buffer): ChipInfo {
  return {
    name: cString(b, OFFSETOF.gpiochip_info_name, GPIO_MAX_NAME_SIZE),
    label: cString(b, OFFSETOF.gpiochip_info_label, GPIO_MAX_NAME_SIZE),
    lines: b.readUInt32LE(OFFSETOF.gpiochip_info_lines),
  };
}

/** A one-line input request with edge detection; the kernel writes the line's fd into it. */
export function encodeLineRequest(offset: number, edge: "rising" | "falling" | "both", consumer: string): Buffer {
  const b = Buffer.alloc(SIZEOF.gpio_v2_line_request);
  b.writeUInt32LE(offset, OFFSETOF.gpio_v2_line_request_offsets);
  b.write(consumer.slice(0, GPIO_MAX_NAME_SIZE - 1), OFFSETOF.gpio_v2_line_request_consumer, "utf8");
  let flags = GPIO_V2_LINE_FLAG.INPUT;
  if (edge !== "falling") flags |= GPIO_V2_LINE_FLAG.EDGE_RISING;
  if (edge !== "rising") flags |= GPIO_V2_LINE_FLAG.EDGE_FALLING;
  b.writeBigUInt64LE(flags, OFFSETOF.gpio_v2_line_request_config_flags);
  b.writeUInt32LE(1, OFFSETOF.gpio_v2_line_request_num_lines);
  b.writeInt32LE(-1, OFFSETOF.gpio_v2_line_request_fd);
  return b;
}

export function lineRequestFd(b: Buffer): number {
  return b.readInt32LE(OFFSETOF.gpio_v2_line_request_fd);
}

/** Values request for the request's first (only) line: mask bit 0. */
export function encodeLineValues(): Buffer {
  const b = Buffer.alloc(SIZEOF.gpio_v2_line_values);
  b.writeBigUInt64LE(1n, OFFSETOF.gpio_v2_line_values_mask);
  return b;
}

export function lineValue(b: Buffer): 0 | 1 {
  return (b.readBigUInt64LE(OFFSETOF.gpio_v2_line_values_bits) & 1n) === 1n ? 1 : 0;
}

/** The level after each edge event in a read() of the line fd (rising → 1, falling → 0). */
export function decodeEventLevels(b: Buffer, bytes: number): (0 | 1)[] {
  const out: (0 | 1)[] = [];
  for (let at = 0; at + SIZEOF.gpio_v2_line_event <= bytes; at += SIZEOF.gpio_v2_line_event) {
    out.push(b.readUInt32LE(at + OFFSETOF.gpio_v2_line_event_id) === GPIO_V2_LINE_EVENT.RISING_EDGE ? 1 : 0);
  }
  return out;
}
