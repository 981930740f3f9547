import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { dirname } from "node:path";
import type { Clock } from "../../kernel/clock.js";
import { AuditError, errorText } from "../../kernel/errors.js";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import { keyId, type Signer } from "../../kernel/keystore.js";
import { AUDIT_EVENTS } from "./events.js";
import { readTail, type Tail } from "./tail.js";
import { entryHash, entryLine, keyFromSpki, spkiBase64, type AuditData, type AuditEntry, type CheckpointData } from "./chain.js";

export { AUDIT_EVENTS, type AuditEventType } from "./events.js";
export type { AuditEntry, AuditData, CheckpointData } from "./chain.js";

/** Collaborators and policy of an audit log. */
export interface AuditLogOptions {
  signer: Signer;
  clock: Clock;
  /** At most this many entries under one signed checkpoint (one write); more wait for the next signature. */
  checkpointEvery: number;
  logger?: Logger;
  /** fdatasync after every write (default true): audit entries are rare and each is evidence. */
  syncEachEntry?: boolean;
  /**
   * The gateway's previous identity key, whose checkpoint may end the log too: a key rotated while the
   * gateway was stopped had no running log to hand over in. Only pass a key the fleet CA certified for
   * this gateway (createGateway does); opening then records `audit.signer_changed`.
   */
  previousKey?: KeyObject;
}

/** Called with every entry written, checkpoints included (the gateway seals them as stream "audit"). */
export type AuditListener = (entry: AuditEntry) => void;

/** An event appended but not yet on disk: it is written together with the checkpoint that signs it. */
interface Pending {
  type: string;
  data: AuditData;
  tsNs: bigint;
}

/**
 * Append-only, hash-chained JSONL audit log in which every line on disk is authenticated by the
 * gateway's identity key (docs/audit-log.md). append() only queues the event (timestamped then);
 * queued events are chained, their last hash is signed, and the entries and the checkpoint carrying
 * that signature go to disk together in one write(2) + fdatasync. So an entry after the last checkpoint
 * is never the gateway's own: whoever can write the file but not use the key cannot add one that
 * verifies, and the gateway refuses to open a log whose tail is not signed by its key.
 */
export class AuditLog {
  private readonly log: Logger;
  private readonly listeners = new Set<AuditListener>();
  private signer: Signer;
  /** Key that signs the checkpoint after the current one (identity rotation, setSigner). */
  private handover: Signer | null = null;
  private pending: Pending[] = [];
  private inflight: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly file: string,
    private fd: number,
    private seq: number,
    private hash: string,
    private lastType: string | null,
    private readonly opts: AuditLogOptions,
  ) {
    this.log = child(opts.logger ?? silentLogger(), "audit");
    this.signer = opts.signer;
  }

  /**
   * Opens (or creates) the log and resumes its chain from the last entry. The last entry must be a
   * checkpoint signed by `signer`'s key over the entry before it (AUDIT_TAIL_UNAUTHENTICATED
   * otherwise: entries nobody signed are never signed over), its hash and link must verify
   * (AUDIT_TAIL_INVALID). A torn last line (crash mid-write) is cut off and recorded as an
   * `audit.tail_repaired` entry.
   */
  static open(file: string, opts: AuditLogOptions): AuditLog {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, "a+", 0o600);
    let tail: Tail;
    try {
      tail = readTail(fd, file, spkiBase64(opts.signer.publicKey()), opts.previousKey ? spkiBase64(opts.previousKey) : null);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    const audit = new AuditLog(file, fd, tail.seq, tail.hash, tail.type, opts);
    if (tail.repaired) {
      audit.log.warn({ file, ...tail.repaired }, "cut off a torn last line of the audit log");
      audit.append(AUDIT_EVENTS.tailRepaired, { ...tail.repaired });
    }
    if (tail.previousSigner !== null) {
      const change = { keyFrom: keyId(keyFromSpki(tail.previousSigner)), keyTo: keyId(opts.signer.publicKey()) };
      audit.log.warn(change, "the audit log ends on the previous identity key (rotated while the gateway was stopped): its checkpoints continue with the new key");
      audit.append(AUDIT_EVENTS.signerChanged, change);
    }
    audit.log.info({ file, seq: audit.seq }, "audit log opened");
    return audit;
  }

  /** seq of the last entry on disk (0 for an empty log). */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Records one event: timestamped now, on disk (with the checkpoint that signs it) once the signature
   * arrives — flush() waits for that. Throws AuditError after close().
   */
  append(type: string, data: AuditData): void {
    if (this.closed) throw new AuditError("AUDIT_CLOSED", `audit log ${this.file} is closed; event "${type}" was not recorded`);
    this.pending.push({ type, data, tsNs: this.opts.clock.nowNs() });
    this.pump();
  }

  /** Subscribes to every entry written from now on; returns the unsubscribe function. */
  onEntry(listener: AuditListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves when every event appended so far is on disk, or could not be signed (a failing signer is
   * retried here a few times, then logged; the events stay queued for the next append or close()).
   */
  async flush(): Promise<void> {
    for (let tries = 0; ; ) {
      if (this.inflight === null && (this.pending.length > 0 || this.handover !== null)) {
        if (tries++ >= 3) return;
        this.pump();
      }
      if (this.inflight === null) return;
      await this.inflight;
    }
  }

  /**
   * Hands checkpoint signing to a new key (identity rotation). The entries queued so far — the
   * `identity.rotated` entry naming the new key included — are signed by the old key, and that
   * checkpoint is signed at once by the new key, both in the same write: the old key introduces the
   * new one and the log never ends on a key the next start does not hold (docs/audit-log.md).
   */
  async setSigner(signer: Signer): Promise<void> {
    if (this.closed) return;
    this.handover = signer;
    await this.flush();
  }

  /** Writes what is queued (signed), then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.pending.length > 0) {
      // Never written unsigned: an entry without a signature is indistinguishable from a forged one.
      this.log.error({ file: this.file, lost: this.pending.length, types: this.pending.map((p) => p.type) }, "audit entries could not be signed and were not written");
      this.pending = [];
    }
    fdatasyncSync(this.fd);
    closeSync(this.fd);
    this.log.info({ file: this.file, seq: this.seq }, "audit log closed");
  }

  /** Starts signing the queued events (one batch at a time); the batch is written when the signature arrives. */
  private pump(): void {
    if (this.inflight !== null || (this.pending.length === 0 && this.handover === null)) return;
    const batch = this.pending.splice(0, Math.max(1, this.opts.checkpointEvery));
    const handover = this.handover;
    let failed = false;
    const p = this.signBatch(batch, handover)
      .then((entries) => {
        this.writeEntries(entries);
        if (handover !== null && this.handover === handover) {
          this.signer = handover;
          this.handover = null;
        }
      })
      .catch((err: unknown) => {
        // Nothing of the batch reached the disk: it waits, in order, for the next attempt (the next
        // append, flush or close), not in a loop against a signer that keeps failing.
        failed = true;
        this.pending.unshift(...batch);
        this.log.error({ entries: batch.length, err: errorText(err) }, "audit entries could not be signed or written; retried with the next entry");
      })
      .finally(() => {
        if (this.inflight === p) this.inflight = null;
        if (!failed) this.pump(); // what was appended while this batch was signed
      });
    this.inflight = p;
  }

  /**
   * Chains the batch after the last entry on disk and signs it: a checkpoint by the current key over
   * the batch's last entry (if there is anything unsigned), then, on a handover, one by the new key over
   * that checkpoint. Nothing is committed here; writeEntries does that once the lines are on disk.
   */
  private async signBatch(batch: readonly Pending[], handover: Signer | null): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    let seq = this.seq;
    let hash = this.hash;
    const add = (type: string, data: AuditData, tsNs: bigint): void => {
      const body = { seq: seq + 1, ts: new Date(Number(tsNs / 1_000_000n)).toISOString(), tsNs: tsNs.toString(), type, data, prev: hash };
      const entry: AuditEntry = { ...body, hash: entryHash(body) };
      entries.push(entry);
      seq = entry.seq;
      hash = entry.hash;
    };
    for (const p of batch) add(p.type, p.data, p.tsNs);
    const checkpoint = async (signer: Signer): Promise<void> => {
      const upTo = seq;
      const covered = hash;
      const sig = await signer.sign(Buffer.from(covered, "hex"));
      const data: CheckpointData = { upTo, hash: covered, sig: sig.toString("base64"), publicKey: spkiBase64(signer.publicKey()) };
      add(AUDIT_EVENTS.checkpoint, { ...data }, this.opts.clock.nowNs());
    };
    if (seq > 0 && (entries.length > 0 || this.lastType !== AUDIT_EVENTS.checkpoint)) await checkpoint(this.signer);
    if (handover !== null && seq > 0) await checkpoint(handover);
    return entries;
  }

  /** One write(2) of all lines, fdatasync, then the chain moves on and listeners hear of each entry. */
  private writeEntries(entries: readonly AuditEntry[]): void {
    if (entries.length === 0) return;
    const buf = Buffer.from(entries.map(entryLine).join(""), "utf8");
    const size = fstatSync(this.fd).size;
    try {
      // The fd is O_APPEND, so each write lands at the end; loop in case the kernel takes it in parts.
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
      if (this.opts.syncEachEntry ?? true) fdatasyncSync(this.fd);
    } catch (err) {
      // A part written (full disk) would break the chain for every later line: take it back.
      try {
        ftruncateSync(this.fd, size);
      } catch { /* the next open cuts a torn line off anyway */ }
      throw err;
    }
    const last = entries[entries.length - 1]!;
    this.seq = last.seq;
    this.hash = last.hash;
    this.lastType = last.type;
    for (const entry of entries) {
      for (const l of this.listeners) {
        try {
          l(entry);
        } catch (err) {
          this.log.error({ seq: entry.seq, err: errorText(err) }, "audit listener threw; entry is on disk");
        }
      }
    }
  }
}
