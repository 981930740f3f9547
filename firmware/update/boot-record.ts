import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { openJsonState } from "../../kernel/json-state.js";
import { AUDIT_EVENTS } from "../audit/events.js";
import type { AuditData } from "../audit/index.js";
import type { RaucStatus } from "./rauc.js";

/** The audit log's append(), all that the update side needs of it. */
export interface UpdateAudit {
  append(type: string, data: AuditData): void;
}

/**
 * What the update side remembers across boots (`<stateDir>/update/state.json`, on the shared data
 * partition): the slot an install wrote and that has not yet been kept or given up.
 */
export interface UpdateState {
  pending: null | {
    /** RAUC's slot name and bootname of the written slot. */
    slot: string;
    bootname: string;
    version: string;
    /** The slot that was running when it was installed. */
    fromBootname: string | null;
    /** update.booted was recorded for it. */
    booted: boolean;
  };
}

export const EMPTY_STATE: UpdateState = { pending: null };

/** Remembers an install (the slot RAUC made primary), so the next boots can say what became of it. */
export function recordInstall(file: string, status: RaucStatus, version: string): void {
  const slot = status.slots.find((s) => s.name === status.primary);
  if (!slot?.bootname) return;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = openJsonState<UpdateState>(file, { ...EMPTY_STATE });
  db.data = { pending: { slot: slot.name, bootname: slot.bootname, version, fromBootname: status.booted, booted: false } };
  db.write();
}

/**
 * At boot (before the gateway starts) and again once boot-complete.target is reached (the health
 * check passed, systemd-bless-boot kept the entry): compares the booted slot with the pending install
 * and records update.booted, update.marked-good or update.rolled-back. Returns the event types written.
 */
export function recordBoot(file: string, status: RaucStatus, audit: UpdateAudit, opts: { bootComplete: boolean }): string[] {
  const db = openJsonState<UpdateState>(file, { ...EMPTY_STATE });
  const p = db.data.pending;
  if (p === null || status.booted === null) return [];
  const written: string[] = [];
  if (status.booted === p.bootname) {
    if (!p.booted) {
      audit.append(AUDIT_EVENTS.updateBooted, { slot: p.slot, version: p.version });
      written.push(AUDIT_EVENTS.updateBooted);
      p.booted = true;
    }
    if (opts.bootComplete) {
      audit.append(AUDIT_EVENTS.updateMarkedGood, { slot: p.slot, version: p.version });
      written.push(AUDIT_EVENTS.updateMarkedGood);
      db.data.pending = null;
    }
  } else if (status.primary === p.slot) {
    // Not rebooted since the install: the written slot is still what boots next.
    return written;
  } else {
    // Booted another slot than the one written, which no longer boots next: the bootloader spent its
    // tries (or it was made bad) and went back by itself.
    const to = status.slots.find((s) => s.bootname === status.booted)?.name ?? status.booted;
    const pendingSlot = status.slots.find((s) => s.name === p.slot);
    audit.append(AUDIT_EVENTS.updateRolledBack, { from: p.slot, to, version: p.version, bootStatus: pendingSlot?.bootStatus ?? null, everBooted: p.booted });
    written.push(AUDIT_EVENTS.updateRolledBack);
    db.data.pending = null;
  }
  db.write();
  return written;
}
