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
 * GPIO through onoff (sysfs). Loaded only when a source says `backend: onoff`. Where the kernel has no
 * GPIO (`Gpio.accessible` false) this fails with a clear error: it never falls back to the fake.
 */
export async function onoffBackend(): Promise<GpioBackend> {
  const mod = (await import("onoff")) as unknown as OnoffModule & { default?: OnoffModule };
  const Gpio = (mod.Gpio ?? mod.default?.Gpio);
  if (!Gpio.accessible) {
    throw new SourceError("GPIO_UNAVAILABLE", "GPIO is not accessible on this machine (no /sys/class/gpio or no permission): check the kernel, the device tree and that the service may use GPIO; `backend: fake` is for tests only");
  }
  return {
    name: "onoff",
    open(line, edge): GpioInput {
      const g = new Gpio(line, "in", edge);
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
