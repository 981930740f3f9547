// Opens the queue file named on the command line in a process of its own (the permission test runs
// it as an unprivileged user) and prints the outcome as one JSON line.
import { QueueError } from "../../kernel/errors.js";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";

const file = process.argv[2] ?? "";
try {
  const q = SqliteQueue.open(file, { backgroundCheckpoint: false });
  const count = q.depth().count;
  q.close();
  process.stdout.write(`${JSON.stringify({ ok: true, count })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, code: err instanceof QueueError ? err.code : null, message: err instanceof Error ? err.message : String(err) })}\n`);
}
