import { setTimeout as sleep } from "node:timers/promises";
import { DevkitError } from "../kernel/errors.js";

/**
 * Polls `pred` until it returns something truthy and returns that value; fails after `ms` naming
 * `what`. A guard against hanging, never a speed assertion.
 */
export async function until<T>(what: string, pred: () => T | undefined | false | null, ms = 60_000, everyMs = 20): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > end) throw new DevkitError("DEVKIT_TIMEOUT", `timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
