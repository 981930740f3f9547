import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { errorText } from "../../kernel/errors.js";
import { child, type Logger } from "../../kernel/log.js";
import type { Clock } from "../../kernel/clock.js";
import { systemScheduler, type Scheduler, type Timer } from "../../kernel/scheduler.js";
import type { GatewayIdentity } from "../../provisioning/identity.js";

/** Where a renewal attempt or an identity switch failed. */
export type IdentityStage = "renew" | "load" | "connect";

export interface IdentityWatchOptions {
  /** The identity in use when the watch starts. */
  identity: GatewayIdentity;
  /** Files whose change means a new identity (certificate, key file). */
  files: string[];
  /** Switches the running gateway to `next` (Gateway.switchIdentity); throws if it could not. */
  apply(next: GatewayIdentity): Promise<void>;
  /**
   * Gets a new certificate through EST (runs `otgw identity renew|rotate`), leaving the new files in
   * place for the watch to pick up. Absent: no automatic renewal (the files still get watched).
   */
  renew?: () => Promise<void>;
  /** Renew once this fraction of the certificate's lifetime has passed (0 < at < 1). */
  renewAt: number;
  /** How often the files and the certificate's age are checked (ms). */
  pollMs: number;
  /** A failure worth auditing (the current identity stays in use). */
  onFailure(stage: IdentityStage, err: unknown): void;
  logger: Logger;
  /** Time for the renewal schedule (default: the system clock; tests pass a ManualTime). */
  clock?: Clock;
  /** Runs the periodic check (default: the system's). */
  scheduler?: Scheduler;
}

/** How many checks in a row the same files may fail to load before it is reported (a rotation writes two files). */
const SETTLE_CHECKS = 3;

/**
 * Keeps a running gateway on a current identity. It renews automatically once the certificate has
 * lived `renewAt` of its lifetime, and it watches the identity files, so a renewal or rotation done
 * by `otgw identity renew|rotate` (the automatic one included) is picked up: the new files are loaded
 * as a second identity beside the one in use (a TPM key gets its own TLS sidecar) and handed to
 * apply(), which switches make-before-break; then the old identity is released. Failures are
 * reported and retried; the identity in use stays until a new one works.
 */
export class IdentityWatch {
  private readonly log: Logger;
  private current: GatewayIdentity;
  private timer: Timer | undefined;
  private busy: Promise<void> | null = null;
  private seen: string;
  private failedLoads = 0;
  private retryAt = 0;
  private renewRetryAt = 0;
  private stopped = false;
  /** Switches applied so far. */
  switches = 0;

  constructor(private readonly o: IdentityWatchOptions) {
    this.log = child(o.logger, "identity-watch");
    this.current = o.identity;
    this.seen = this.fingerprint();
  }

  /** The identity in use now. */
  get identity(): GatewayIdentity {
    return this.current;
  }

  start(): void {
    this.timer = (this.o.scheduler ?? systemScheduler).setInterval(() => this.tick(), this.o.pollMs).unref();
  }

  /** Stops checking and waits for a switch in progress; the current identity is the caller's to close. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.busy;
  }

  private now(): number {
    return this.o.clock?.nowMs() ?? Date.now();
  }

  private tick(): void {
    if (this.busy || this.stopped) return;
    this.busy = this.check().finally(() => { this.busy = null; });
  }

  private async check(): Promise<void> {
    await this.pickUp();
    if (this.stopped || !this.o.renew || this.now() < this.renewRetryAt || this.now() < this.renewDue()) return;
    this.log.info({ due: new Date(this.renewDue()).toISOString() }, "certificate past its renewal point: renewing through EST");
    try {
      await this.o.renew();
    } catch (err) {
      this.renewRetryAt = this.now() + this.retryDelay();
      this.log.error({ err: errorText(err), retryAt: new Date(this.renewRetryAt).toISOString() }, "renewal failed; the current certificate stays in use");
      this.o.onFailure("renew", err);
      return;
    }
    // Pick the result up now, so the next check does not see the old certificate still due.
    await this.pickUp();
  }

  /** The moment the current certificate should be renewed. */
  private renewDue(): number {
    const c = new X509Certificate(this.current.tls.cert);
    const from = Date.parse(c.validFrom);
    return from + this.o.renewAt * (Date.parse(c.validTo) - from);
  }

  /** Retry delay after a failure: a tenth of the certificate's lifetime, within 1 s .. 5 min. */
  private retryDelay(): number {
    const c = new X509Certificate(this.current.tls.cert);
    return Math.min(300_000, Math.max(1000, (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 10));
  }

  /** Size, mtime and inode of each watched file: any rename-replace or rewrite changes it. */
  private fingerprint(): string {
    return this.o.files.map((f) => {
      const st = statSync(f, { throwIfNoEntry: false });
      return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : "-";
    }).join("|");
  }

  /** Loads and applies the identity files if they changed and hold a certificate other than the one in use. */
  private async pickUp(): Promise<void> {
    const fp = this.fingerprint();
    if (fp === this.seen || this.now() < this.retryAt) return;
    let serial: string;
    try {
      serial = new X509Certificate(readFileSync(this.o.files[0] ?? "")).serialNumber;
    } catch {
      return; // mid-write: look again next time
    }
    if (serial === new X509Certificate(this.current.tls.cert).serialNumber) {
      this.seen = fp; // e.g. the key file moved but the certificate did not change (yet)
      return;
    }
    let next: GatewayIdentity;
    try {
      next = await this.current.reload();
    } catch (err) {
      // A rotation renames the key file and then replaces the certificate: between the two the pair does
      // not match. Report only once the files have stayed inconsistent for a few checks.
      if (++this.failedLoads >= SETTLE_CHECKS) {
        this.failedLoads = 0;
        this.seen = fp;
        this.log.error({ err: errorText(err) }, "the new identity files cannot be used; the current identity stays in use");
        this.o.onFailure("load", err);
      }
      return;
    }
    this.failedLoads = 0;
    try {
      await this.o.apply(next);
    } catch (err) {
      await next.close?.();
      this.retryAt = this.now() + this.retryDelay();
      this.log.error({ err: errorText(err), retryAt: new Date(this.retryAt).toISOString() }, "could not switch to the new identity; the current one stays in use");
      this.o.onFailure("connect", err);
      return;
    }
    this.seen = fp;
    const old = this.current;
    this.current = next;
    this.switches++;
    await old.close?.();
  }
}
