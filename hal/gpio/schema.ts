import { Type, type Static } from "@sinclair/typebox";
import { IdT, strict } from "../../kernel/config-schema.js";

/**
 * The GPIO config fragment (`kind: gpio`, docs/config.md "GPIO sources"); firmware/config/schema.ts puts it
 * into the gateway schema's `sources`.
 */

export const GpioLine = Type.Object({
  /** The line's offset on the chip (as gpioinfo lists it); onoff adds the chip's sysfs base itself. */
  line: Type.Integer({ minimum: 0, maximum: 4095 }),
  edge: Type.Union([Type.Literal("rising"), Type.Literal("falling"), Type.Literal("both")], { default: "both" }),
  debounceMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 20 }),
  activeLow: Type.Boolean({ default: false }),
  /** An enclosure tamper switch: every change is also an audit event (docs/adapters.md). */
  tamper: Type.Boolean({ default: false }),
}, strict);

export const GpioSourceConfig = Type.Object({
  id: IdT,
  kind: Type.Literal("gpio"),
  /**
   * chardev (the kernel's /dev/gpiochipN character device, the default and the only one that works
   * under the service unit), onoff (sysfs, only where /sys is writable) or fake (tests; never chosen
   * silently, production refuses it).
   */
  backend: Type.Union([Type.Literal("chardev"), Type.Literal("onoff"), Type.Literal("fake")], { default: "chardev" }),
  /** The chip's name under /dev (chardev) and /sys/bus/gpio/devices (onoff). */
  chip: Type.String({ pattern: "^gpiochip[0-9]{1,4}$", default: "gpiochip0" }),
  lines: Type.Array(GpioLine, { minItems: 1 }),
}, strict);

export type GpioSourceConfig = Static<typeof GpioSourceConfig>;
export type GpioLineConfig = Static<typeof GpioLine>;
