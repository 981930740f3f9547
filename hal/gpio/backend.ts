/** One input line as a backend opens it. Values are electrical levels (0/1), before activeLow. */
export interface GpioInput {
  read(): 0 | 1;
  /** Calls fn on every edge the backend reports (undebounced); returns a function that stops it. */
  watch(fn: (level: 0 | 1) => void): () => void;
  close(): void;
}

/**
 * A GPIO implementation for one chip (chosen in config): the character device in production, onoff
 * (sysfs) where /sys is writable, the fake in tests and on benches.
 */
export interface GpioBackend {
  readonly name: "chardev" | "onoff" | "fake";
  /** Requests one line by its offset on the chip; throws a SourceError naming the chip and line. */
  open(line: number, edge: "rising" | "falling" | "both"): GpioInput;
  /** Releases the chip (after every line is closed). */
  close?(): void;
}
