import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";

// Root reads and writes any file whatever its mode, so as root (the CI machine) the opener runs as
// `nobody` through setpriv; as any other user it runs as that user and chmod alone refuses it.
const asRoot = process.getuid?.() === 0;
const NOBODY = 65_534;
const child = fileURLToPath(new URL("./open-queue-child.js", import.meta.url));

const root = mkdtempSync(join(tmpdir(), "otgw-queue-perm-"));
chmodSync(root, 0o755); // the unprivileged opener must reach the state directories inside
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

interface Outcome { ok: boolean; count?: number; code?: string | null; message?: string }

function openAsOtherUser(file: string): Outcome {
  const cmd = asRoot ? "setpriv" : process.execPath;
  const args = asRoot ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", process.execPath, child, file] : [child, file];
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  assert.equal(r.status, 0, `opener exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as Outcome;
}

/** A state directory owned by the opener's user, with a closed queue file holding 40 items. */
function stateDir(): { dir: string; file: string } {
  const dir = join(root, `s${n++}`);
  mkdirSync(dir, { mode: 0o700 });
  const file = join(dir, "queue.db");
  const q = SqliteQueue.open(file, { backgroundCheckpoint: false });
  q.enqueue(Array.from({ length: 40 }, (_, i) => ({ stream: "telemetry", topic: "otgw/v1/gw/telemetry", priority: 2, payload: Buffer.alloc(100, i) })));
  q.close();
  if (asRoot) for (const p of [dir, ...readdirSync(dir).map((f) => join(dir, f))]) chownSync(p, NOBODY, NOBODY);
  return { dir, file };
}

const user = asRoot ? "nobody" : (process.env.USER ?? "");

void describe("a queue file the gateway's user may not open", () => {
  void it("is opened by the unprivileged opener while its mode allows it (the refusals below come from the modes)", () => {
    const { file } = stateDir();
    assert.deepEqual(openAsOtherUser(file), { ok: true, count: 40 });
  });

  void it("chmod 000: QUEUE_PERMISSION naming the file, the user and the fix, never 'move it aside'; the file stays intact", () => {
    const { dir, file } = stateDir();
    const before = readFileSync(file);
    const files0 = readdirSync(dir);
    chmodSync(file, 0o000);
    const r = openAsOtherUser(file);
    assert.equal(r.ok, false);
    assert.equal(r.code, "QUEUE_PERMISSION", r.message);
    const msg = r.message ?? "";
    assert.ok(msg.includes(file), msg);
    assert.ok(msg.includes(user), `names the user ${user}: ${msg}`);
    assert.match(msg, /uid \d+/);
    assert.match(msg, /mode 0000/);
    assert.match(msg, /chown|chmod/);
    assert.match(msg, /not damage/);
    assert.doesNotMatch(msg, /move it aside/);
    assert.ok(!msg.includes("\n"), "one line");
    const files = readdirSync(dir);
    assert.deepEqual(files.filter((f) => f.startsWith("queue.db.damaged")), [], "nothing moved aside");
    assert.deepEqual(files, files0, "nothing created, nothing removed");
    assert.deepEqual(readFileSync(file), before, "the file is untouched");
    chmodSync(file, 0o600);
    assert.deepEqual(openAsOtherUser(file), { ok: true, count: 40 }, "once access is given, every frame is there");
  });

  void it("a state directory the user may not write (SQLite's -wal and -shm go there): QUEUE_PERMISSION naming the directory", () => {
    const { dir, file } = stateDir();
    chmodSync(dir, 0o500);
    const r = openAsOtherUser(file);
    chmodSync(dir, 0o700);
    assert.equal(r.code, "QUEUE_PERMISSION", r.message);
    assert.ok((r.message ?? "").includes(`queue directory ${dir}`), r.message);
    assert.doesNotMatch(r.message ?? "", /move it aside/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("queue.db.damaged")), [], "nothing moved aside");
  });
});
