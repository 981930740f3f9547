/**
 * Small JSON state (kernel/json-state.ts over kernel/durable-write.ts): what is written is what a new
 * reader sees, in the format these files always had; a crash before the rename (a temp file left
 * behind), a failed write and a full disk all leave the previous state intact and no temp file; and
 * the write syncs the temp file before the rename and the directory after it.
 */
import assert from "node:assert/strict";
import fs, { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeFileDurably } from "../../kernel/durable-write.js";
import { openJsonState } from "../../kernel/json-state.js";
import { mountSmallFs } from "./fs.js";

interface State { version: 1; items: Record<string, { n: number; note?: string }> }
const empty = (): State => ({ version: 1, items: {} });

/** Runs `fn` with node:fs's open/fsync/close/rename recorded (ESM importers see the spies too). */
function recordingFs(fn: () => void): string[] {
  const calls: string[] = [];
  const names = new Map<number, string>();
  const real = { openSync: fs.openSync, fsyncSync: fs.fsyncSync, closeSync: fs.closeSync, renameSync: fs.renameSync };
  const spies: Partial<typeof real> = {
    openSync: (path, flags, mode) => { const fd = real.openSync(path, flags, mode); names.set(fd, String(path)); calls.push(`open ${String(path)}`); return fd; },
    fsyncSync: (fd) => { calls.push(`fsync ${names.get(fd) ?? fd}`); real.fsyncSync(fd); },
    closeSync: (fd) => { calls.push(`close ${names.get(fd) ?? fd}`); real.closeSync(fd); },
    renameSync: (from, to) => { calls.push(`rename ${String(from)} ${String(to)}`); real.renameSync(from, to); },
  };
  Object.assign(fs, spies);
  syncBuiltinESMExports();
  try {
    fn();
  } finally {
    Object.assign(fs, real);
    syncBuiltinESMExports();
  }
  return calls;
}

void describe("JSON state files (lowdb, durable writes)", () => {
  let root: string;
  let n = 0;
  const freshDir = (): string => { const d = join(root, `s${n++}`); mkdirSync(d); return d; };
  before(() => { root = mkdtempSync(join(tmpdir(), "otgw-jsonstate-")); });
  after(() => rmSync(root, { recursive: true, force: true }));

  void it("a write is what the next reader sees, pretty-printed with a newline, mode 0600, no temp file left", () => {
    const dir = freshDir();
    const file = join(dir, "state.json");
    const db = openJsonState<State>(file, empty());
    assert.deepEqual(db.data, empty(), "defaults while there is no file");
    assert.deepEqual(readdirSync(dir), [], "opening writes nothing");
    db.data.items.a = { n: 1, note: "é ✓" };
    db.write();
    db.data.items.b = { n: 2 };
    db.write();
    assert.deepEqual(openJsonState<State>(file, empty()).data, { version: 1, items: { a: { n: 1, note: "é ✓" }, b: { n: 2 } } });
    assert.equal(readFileSync(file, "utf8"), `${JSON.stringify(db.data, null, 2)}\n`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ["state.json"]);
  });

  void it("loads a file written before lowdb (same format), and keeps the format on the next write", () => {
    const dir = freshDir();
    const file = join(dir, "inventory.json");
    const old = { version: 1, gateways: { "gw-1": { gatewayId: "gw-1", keys: [], certs: [{ serial: "0a", revokedAt: "2026-01-01T00:00:00.000Z" }] } } };
    writeFileSync(file, `${JSON.stringify(old, null, 2)}\n`, { mode: 0o600 });
    const before = readFileSync(file, "utf8");
    const db = openJsonState<typeof old>(file, { version: 1, gateways: { "gw-1": { gatewayId: "", keys: [], certs: [] } } });
    assert.deepEqual(db.data, old);
    db.write();
    assert.equal(readFileSync(file, "utf8"), before);
  });

  void it("a crash between temp write and rename leaves the old state; the next write replaces the leftover", () => {
    const dir = freshDir();
    const file = join(dir, "state.json");
    const db = openJsonState<State>(file, empty());
    db.data.items.kept = { n: 1 };
    db.write();
    // What a crash after the temp write leaves: a half-written, world-readable temp file.
    writeFileSync(`${file}.tmp`, '{"version":1,"items":{"lost":', { mode: 0o644 });
    chmodSync(`${file}.tmp`, 0o644);
    const reopened = openJsonState<State>(file, empty());
    assert.deepEqual(reopened.data, { version: 1, items: { kept: { n: 1 } } });
    reopened.data.items.next = { n: 2 };
    reopened.write();
    assert.deepEqual(openJsonState<State>(file, empty()).data.items, { kept: { n: 1 }, next: { n: 2 } });
    assert.deepEqual(readdirSync(dir), ["state.json"]);
    assert.equal(statSync(file).mode & 0o777, 0o600, "the leftover's mode does not carry over");
  });

  void it("a write that fails (the rename) leaves the old state and no temp file, and says why", () => {
    const dir = freshDir();
    const file = join(dir, "state.json");
    writeFileDurably(file, "old\n");
    // Renaming a file over a non-empty directory fails; the bytes were already written to the temp file.
    const blocked = join(dir, "blocked");
    mkdirSync(join(blocked, "inside"), { recursive: true });
    assert.throws(() => writeFileDurably(blocked, "new\n"), (e: unknown) => (e as NodeJS.ErrnoException).code === "EISDIR" || (e as NodeJS.ErrnoException).code === "ENOTEMPTY");
    assert.deepEqual(readdirSync(dir).sort(), ["blocked", "state.json"]);
    assert.equal(readFileSync(file, "utf8"), "old\n");
  });

  void it("a full disk fails the write, keeps the old state and leaves no temp file", () => {
    const small = mountSmallFs("64k");
    try {
      const file = join(small.dir, "state.json");
      const db = openJsonState<State>(file, empty());
      db.data.items.kept = { n: 1 };
      db.write();
      db.data.items.big = { n: 2, note: "x".repeat(256 * 1024) };
      assert.throws(() => db.write(), (e: unknown) => (e as NodeJS.ErrnoException).code === "ENOSPC");
      assert.deepEqual(openJsonState<State>(file, empty()).data, { version: 1, items: { kept: { n: 1 } } });
      assert.deepEqual(readdirSync(small.dir), ["state.json"]);
    } finally {
      small.unmount();
    }
  });

  void it("syncs the temp file before the rename and the directory after it", () => {
    const dir = freshDir();
    const file = join(dir, "state.json");
    const db = openJsonState<State>(file, empty());
    db.data.items.a = { n: 1 };
    const calls = recordingFs(() => db.write());
    assert.deepEqual(calls, [
      `open ${file}.tmp`, `fsync ${file}.tmp`, `close ${file}.tmp`,
      `rename ${file}.tmp ${file}`,
      `open ${dir}`, `fsync ${dir}`, `close ${dir}`,
    ]);
  });
});
