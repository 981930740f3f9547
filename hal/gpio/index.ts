/**
 * GPIO digital inputs (docs/adapters.md, URIs in docs/records.md). The chardev backend (koffi) loads only
 * for `backend: chardev`, onoff only for `backend: onoff`.
 */
import type { Clock } from "../../kernel/clock.js";
import type { Logger } from "../../kernel/log.js";
import type { Scheduler } from "../../kernel/scheduler.js";
import type { GpioSourceConfig } from "./schema.js";
import { sharedFakeChip } from "./fake.js";
import { GpioSource } from "./source.js";

export { GpioSource, type GpioSourceOptions, type TamperEvent } from "./source.js";
export { FakeGpioChip, sharedFakeChip } from "./fake.js";
export type { GpioBackend, GpioInput } from "./backend.js";

export { isTamperReporter } from "../source.js";

/** A GPIO source from its config; `scheduler` runs the debounce timers (default: the system's). */
export function createGpioSource(sc: GpioSourceConfig, clock: Clock, logger: Logger, scheduler?: Scheduler): GpioSource {
  return new GpioSource({
    id: sc.id, chip: sc.chip, lines: sc.lines, scheduler,
    // The backend is exactly what the config names: never a silent fallback to the fake.
    backend: async () => {
      if (sc.backend === "fake") return sharedFakeChip;
      if (sc.backend === "onoff") return (await import("./onoff.js")).onoffBackend(sc.chip);
      return (await import("./chardev.js")).chardevBackend(sc.chip);
    },
  }, clock, logger);
}
