import { createRequire } from "node:module";
import { errorText } from "../../kernel/errors.js";

/**
 * systemd's readiness and watchdog protocol (sd_notify(3)) for a Type=notify unit. Node cannot send
 * on a unix datagram socket, so libsystemd's own sd_notify is called through koffi (already used for
 * the TPM). Outside systemd (no NOTIFY_SOCKET) every call is a no-op and nothing is loaded.
 */
export interface Notifier {
  /** True when systemd listens (NOTIFY_SOCKET set and libsystemd loaded). */
  readonly enabled: boolean;
  /** Sends one state string, e.g. "READY=1\nSTATUS=running". Never throws. */
  notify(state: string): void;
  /** Pets the watchdog at half of WATCHDOG_USEC from the event loop (so a blocked loop misses it); returns a stop function. */
  startWatchdog(): () => void;
}

interface KoffiLib { func(definition: string): (...args: unknown[]) => number }
const require = createRequire(import.meta.url);

/** The notifier for this process; `onError` hears about a missing libsystemd once (it is not fatal). */
export function systemdNotifier(onError: (msg: string) => void, env: NodeJS.ProcessEnv = process.env): Notifier {
  let send: ((state: string) => number) | null = null;
  if (env.NOTIFY_SOCKET) {
    try {
      const koffi = require("koffi") as { load(path: string): KoffiLib };
      const fn = koffi.load("libsystemd.so.0").func("int sd_notify(int unset_environment, const char *state)");
      send = (state) => fn(0, state);
    } catch (err) {
      onError(`NOTIFY_SOCKET is set but libsystemd.so.0 cannot be loaded (${errorText(err)}): systemd will not see readiness or watchdog pings; install libsystemd0`);
    }
  }
  const notify = (state: string): void => {
    if (!send) return;
    const rc = send(state);
    if (rc < 0) onError(`sd_notify failed (errno ${-rc})`);
  };
  const watchdogMs = (): number | null => {
    const usec = Number(env.WATCHDOG_USEC ?? "");
    if (!Number.isFinite(usec) || usec <= 0) return null;
    // WATCHDOG_PID, when set, names the process the watchdog is meant for.
    if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== process.pid) return null;
    return Math.max(1, Math.floor(usec / 2000));
  };
  return {
    enabled: send !== null,
    notify,
    startWatchdog: () => {
      const ms = watchdogMs();
      if (!send || ms === null) return () => undefined;
      notify("WATCHDOG=1");
      const t = setInterval(() => notify("WATCHDOG=1"), ms);
      return () => clearInterval(t);
    },
  };
}
