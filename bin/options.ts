/**
 * Option parsers shared by the command groups, so every numeric option is checked the same way and a
 * bad value stops the command before it starts (`--messages abc` used to run forever with NaN).
 */
import { Option } from "commander";
import { UsageError } from "./output.js";

/** The integers a numeric option accepts (bounds inclusive). */
export interface IntRange {
  min: number;
  max?: number;
}

/** Counts, sizes, durations: 1 or more. */
export const POSITIVE: IntRange = { min: 1 };
/** Offsets and timestamps: 0 or more. */
export const NON_NEGATIVE: IntRange = { min: 0 };
/** A TCP port; 0 lets the system choose. */
export const PORT: IntRange = { min: 0, max: 65535 };

function describe(r: IntRange): string {
  if (r.max !== undefined) return `an integer from ${r.min} to ${r.max}`;
  if (r.min === 1) return "a positive integer";
  if (r.min === 0) return "a non-negative integer";
  return `an integer of at least ${r.min}`;
}

/**
 * `text` as an integer in `range`, or a UsageError naming `flag`:
 * `--messages must be a positive integer, got "abc"`. Only plain decimal digits are accepted, so
 * `1.5`, `1e3`, `0x10` and the empty string are refused rather than read as something else.
 */
export function parseIntOption(flag: string, text: string, range: IntRange): number {
  const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || (range.max !== undefined && n > range.max)) {
    throw new UsageError(`${flag} must be ${describe(range)}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** An option taking one integer in `range`, checked by parseIntOption under the option's own name. */
export function intOption(flags: string, description: string, range: IntRange, defaultValue?: number): Option {
  const option = new Option(flags, description);
  const flag = option.long ?? option.short ?? flags;
  option.argParser((v: string) => parseIntOption(flag, v, range));
  return defaultValue === undefined ? option : option.default(defaultValue);
}

/**
 * Parser of a repeatable option (`--trusted A --trusted B`): each occurrence adds a value. Used instead
 * of variadic options (`<keys...>`), which also swallow the positional arguments that follow them.
 */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
