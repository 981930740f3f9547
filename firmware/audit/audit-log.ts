import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import type { Clock } from "../../kernel/clock.js";
import { AuditError, errorText } from "../../kernel/errors.js";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import type { Signer } from "../../kernel/keystore.js";
import { AUDIT_EVENTS } from "./events.js";
import { GENESIS_HASH, entryHash, entryLine, isEntryShape, spkiBase64, type AuditData, type AuditEntry, type CheckpointData } from "./chain.js";

export { AUDIT_EVENTS, type AuditEventType } from "./events.js";
export type { AuditEntry, AuditData, CheckpointData } from "./chain.js";

/** Collaborators and policy of an audit log. */
export interface AuditLogOptions {
  signer: Signer;
  clock: Clock;
  /** A signed checkpoint after this many entries (and on close). */
  checkpointEvery: number;
  logger?: Logger;
  /** fdatasync after every entry (default true): audit entries are rare and each is evidence. */
  syncEachEntry?: boolean;
  /**
   * Leave the entries an earlier run wrote after its last checkpoint unsigned until signTail() (default
   * false: open() signs them). The gateway opens its log before it starts and signs the tail at start,
   * so that checkpoint lands after its start entry, as when it opened the log at start.
   */
  deferTailCheckpoint?: boolean;
}

/** Called with every entry written, checkpoints included (the gateway seals them as stream "audit"). */
export type AuditListener = (entry: AuditEntry) => void;

interface Tail {
  seq: number;
  hash: string;
  type: string | null;
  repaired: { droppedBytes: number; droppedSha256: string } | null;
}

/**
 * Append-only, hash-chained JSONL audit log with signed checkpoints (docs/audit-log.md). append() is
 * synchronous (one write(2) of the whole line, then fdatasync) so an event is on disk before the
 * caller continues; signing is asynchronous, so a checkpoint is written when its signature arrives and
 * names the entry it covers (`upTo`), which may be a few entries behind.
 */
export class AuditLog {
  private readonly log: Logger;
  private readonly listeners = new Set<AuditListener>();
  private publicKey: string;
  private signer: Signer;
  private sinceCheckpoint = 0;
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
    this.publicKey = spkiBase64(opts.signer.publicKey());
  }

  /**
   * Opens (or creates) the log and resumes its chain from the last entry, after checking that entry's
   * hash and its link to the one before. A torn last line (crash mid-write) is cut off and recorded as
   * an `audit.tail_repaired` entry; a last entry that does not verify is refused with an AuditError.
   */
  static open(file: string, opts: AuditLogOptions): AuditLog {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, "a+", 0o600);
    let tail: Tail;
    try {
      tail = readTail(fd, file);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    const audit = new AuditLog(file, fd, tail.seq, tail.hash, tail.type, opts);
    if (tail.repaired) {
      audit.log.warn({ file, ...tail.repaired }, "cut off a torn last line of the audit log");
      audit.append(AUDIT_EVENTS.tailRepaired, { ...tail.repaired });
    }
    if (!opts.deferTailCheckpoint) audit.signTail();
    audit.log.info({ file, seq: audit.seq }, "audit log opened");
    return audit;
  }

  /** seq of the last entry written (0 for an empty log). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Writes one entry durably and returns it. Throws AuditError after close(). */
  append(type: string, data: AuditData): AuditEntry {
    const entry = this.write(type, data);
    if (++this.sinceCheckpoint >= this.opts.checkpointEvery && this.inflight === null) this.startCheckpoint();
    return entry;
  }

  /** Entries the previous run wrote after its last checkpoint get signed now rather than later. */
  signTail(): void {
    if (this.seq > 0 && this.lastType !== AUDIT_EVENTS.checkpoint) this.startCheckpoint();
  }

  /** Subscribes to every entry written from now on; returns the unsubscribe function. */
  onEntry(listener: AuditListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when no checkpoint signature is in flight. */
  async flush(): Promise<void> {
    while (this.inflight) await this.inflight;
  }

  /**
   * Hands checkpoint signing to a new key (identity rotation). Everything written so far — the
   * `identity.rotated` entry naming the new key included — is first covered by a checkpoint of the old
   * key, so the handover itself is signed by the key being replaced (docs/audit-log.md).
   */
  async setSigner(signer: Signer): Promise<void> {
    await this.flush();
    if (!this.closed && this.seq > 0 && this.lastType !== AUDIT_EVENTS.checkpoint) {
      this.startCheckpoint();
      await this.flush();
    }
    this.signer = signer;
    this.publicKey = spkiBase64(signer.publicKey());
  }

  /** Writes a final signed checkpoint covering every entry, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    // Entries may arrive while the signature is computed; loop (bounded) until the last entry is signed.
    for (let i = 0; i < 3 && this.seq > 0 && this.lastType !== AUDIT_EVENTS.checkpoint; i++) {
      this.startCheckpoint();
      await this.flush();
    }
    this.closed = true;
    fdatasyncSync(this.fd);
    closeSync(this.fd);
    this.log.info({ file: this.file, seq: this.seq }, "audit log closed");
  }

  private startCheckpoint(): void {
    const upTo = this.seq;
    const hash = this.hash;
    this.sinceCheckpoint = 0;
    const publicKey = this.publicKey;
    const p = this.signer
      .sign(Buffer.from(hash, "hex"))
      .then((sig) => {
        const data: CheckpointData = { upTo, hash, sig: sig.toString("base64"), publicKey };
        this.write(AUDIT_EVENTS.checkpoint, { ...data });
      })
      .catch((err: unknown) => {
        // The chain stays intact without the checkpoint; the next one covers these entries too.
        this.log.error({ upTo, err: errorText(err) }, "audit checkpoint could not be signed");
      })
      .finally(() => {
        if (this.inflight === p) this.inflight = null;
      });
    this.inflight = p;
  }

  private write(type: string, data: AuditData): AuditEntry {
    if (this.closed) throw new AuditError("AUDIT_CLOSED", `audit log ${this.file} is closed; event "${type}" was not recorded`);
    const tsNs = this.opts.clock.nowNs();
    const body = { seq: this.seq + 1, ts: new Date(Number(tsNs / 1_000_000n)).toISOString(), tsNs: tsNs.toString(), type, data, prev: this.hash };
    const entry: AuditEntry = { ...body, hash: entryHash(body) };
    const buf = Buffer.from(entryLine(entry), "utf8");
    // The fd is O_APPEND, so each write lands at the end; loop in case the kernel takes it in parts.
    for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
    if (this.opts.syncEachEntry ?? true) fdatasyncSync(this.fd);
    this.seq = entry.seq;
    this.hash = entry.hash;
    this.lastType = type;
    for (const l of this.listeners) {
      try {
        l(entry);
      } catch (err) {
        this.log.error({ seq: entry.seq, err: errorText(err) }, "audit listener threw; entry is on disk");
      }
    }
    return entry;
  }
}

/** Reads the end of the file: the last complete entry (verified) and any torn bytes after it. */
function readTail(fd: number, file: string): Tail {
  const size = fstatSync(fd).size;
  if (size === 0) return { seq: 0, hash: GENESIS_HASH, type: null, repaired: null };
  // Grow the window from the end until it holds two complete lines (or the whole file).
  let window = 64 * 1024;
  let text = "";
  for (;;) {
    const len = Math.min(size, window);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    text = buf.toString("utf8");
    if (len === size || text.slice(0, -1).split("\n").length >= 4) break;
    window *= 4;
  }
  let repaired: Tail["repaired"] = null;
  const cut = text.lastIndexOf("\n") + 1;
  if (cut < text.length) {
    const torn = Buffer.from(text.slice(cut), "utf8");
    ftruncateSync(fd, size - torn.length);
    repaired = { droppedBytes: torn.length, droppedSha256: createHash("sha256").update(torn).digest("hex") };
    text = text.slice(0, cut);
  }
  const lines = text.split("\n").filter((l) => l !== "");
  const last = parse(lines.at(-1));
  if (!last) {
    if (lines.length === 0 && cut === 0) return { seq: 0, hash: GENESIS_HASH, type: null, repaired };
    throw tailError(file, "the last line is not an audit entry");
  }
  if (entryHash(last) !== last.hash) throw tailError(file, `entry ${last.seq} does not match its hash`);
  const before = lines.length >= 2 ? parse(lines.at(-2)) : null;
  if (before && (before.hash !== last.prev || before.seq + 1 !== last.seq)) throw tailError(file, `entry ${last.seq} does not chain to the entry before it`);
  return { seq: last.seq, hash: last.hash, type: last.type, repaired };
}

function parse(line: string | undefined): AuditEntry | null {
  if (line === undefined) return null;
  try {
    const v: unknown = JSON.parse(line);
    return isEntryShape(v) ? v : null;
  } catch {
    return null;
  }
}

function tailError(file: string, what: string): AuditError {
  return new AuditError(
    "AUDIT_TAIL_INVALID",
    `audit log ${file}: ${what}. Keep the file as evidence, run \`otgw audit verify ${file}\`, then move it aside so a new log can start`,
  );
}
