import { Worker } from "node:worker_threads";

/**
 * Copies the queue's WAL into its main file from a worker thread (docs/queue.md "Checkpoints"), so the
 * gateway's thread never waits for the two fsyncs a checkpoint costs. The gateway's connection keeps
 * SQLite's own autocheckpoint (every 256 pages) as the fallback: if the worker lags or fails, the WAL
 * stays bounded exactly as before, only on the gateway's thread.
 *
 * A checkpoint is requested after about `everyBytes` of estimated WAL growth, at most one at a time.
 * The worker starts with the first request, so a queue opened only to be read never starts one.
 */
export class BackgroundCheckpointer {
  private worker: Worker | null = null;
  private outstanding = false;
  private grown = 0;
  private closed = false;
  /** Why the worker stopped working, if it did (the fallback is then in use). */
  failure: string | null = null;
  /** Checkpoints the worker completed. */
  done = 0;
  /** The last checkpoint that failed, in words (it is retried with the next request). */
  lastError: string | null = null;

  constructor(private readonly file: string, private readonly synchronous: "NORMAL" | "FULL", private readonly everyBytes = 256 * 1024) {}

  /** About `bytes` were written to the WAL (rows added or deleted). */
  wrote(bytes: number): void {
    this.grown += bytes;
    if (this.grown < this.everyBytes || this.outstanding || this.closed || this.failure !== null) return;
    this.grown = 0;
    const w = this.worker ?? this.start();
    if (!w) return;
    this.outstanding = true;
    w.postMessage("checkpoint");
  }

  private start(): Worker | null {
    try {
      const here = import.meta.url;
      const w = new Worker(new URL(`./checkpoint-worker.${here.endsWith(".ts") ? "ts" : "js"}`, here), { workerData: { file: this.file, synchronous: this.synchronous } });
      w.on("message", (m: string) => {
        this.outstanding = false;
        // A failed checkpoint (e.g. a full disk) is retried with the next request; the WAL stays as is.
        if (m === "done") this.done++;
        else this.lastError = m;
      });
      w.on("error", (err) => this.stop(`checkpoint worker failed: ${err.message}`));
      w.on("exit", (code) => { if (!this.closed) this.stop(`checkpoint worker exited (${code})`); });
      // After the listeners: attaching a 'message' listener refs the worker's port again.
      w.unref();
      this.worker = w;
      return w;
    } catch (err) {
      this.stop(`checkpoint worker could not start: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }

  private stop(why: string): void {
    this.failure ??= why;
    this.outstanding = false;
    const w = this.worker;
    this.worker = null;
    if (w) void w.terminate();
  }

  /** Ends the worker (it closes its connection first). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker?.postMessage("close");
    this.worker = null;
  }
}
