import { Type, type Static } from "@sinclair/typebox";
import { IdT, strict } from "../../kernel/config-schema.js";

/**
 * The GPIO config fragment (`kind: gpio`, docs/config.md "GPIO sources"); firmware/config/schema.ts puts it
 * into the gateway schema's `sources`.
 */

export const GpioLine = Type.Object({
  /** Line number as the backend numbers it (onoff: the kernel's sysfs GPIO number). */
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
  /** Required on purpose: the fake backend is never chosen silently. */
  backend: Type.Union([Type.Literal("onoff"), Type.Literal("fake")]),
  chip: Type.String({ pattern: "^[A-Za-z0-9_-]{1,32}$", default: "gpiochip0" }),
  lines: Type.Array(GpioLine, { minItems: 1 }),
}, strict);

export type GpioSourceConfig = Static<typeof GpioSourceConfig>;
export type GpioLineConfig = Static<typeof GpioLine>;
