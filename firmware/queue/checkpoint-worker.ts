/**
 * Worker thread of BackgroundCheckpointer: copies the WAL into the main file whenever asked (PASSIVE:
 * never waits for, never blocks, the gateway's connection). It opens its connection for each checkpoint
 * and closes it right after, so between checkpoints the gateway's connection is the only one: when the
 * queue closes, SQLite (last connection) checkpoints and removes the WAL as it would without a worker.
 * Replies "done" after each checkpoint, or an error text.
 */
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";
import { RuntimeError } from "../../kernel/errors.js";

const { file, synchronous } = workerData as { file: string; synchronous: "NORMAL" | "FULL" };
const port = parentPort;
if (!port) throw new RuntimeError("RUNTIME_INVARIANT", "checkpoint-worker runs as a worker thread only");
port.on("message", (m: string) => {
  if (m === "close") {
    port.close();
    return;
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    // The checkpoint's own syncs (the WAL before copying, the main file after) follow the queue's durability.
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma("wal_autocheckpoint = 0");
    db.pragma("wal_checkpoint(PASSIVE)");
    port.postMessage("done");
  } catch (err) {
    port.postMessage(`error: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    db?.close();
  }
});
