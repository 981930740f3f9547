/** One input line as a backend opens it. Values are electrical levels (0/1), before activeLow. */
export interface GpioInput {
  read(): 0 | 1;
  /** Calls fn on every edge the backend reports (undebounced); returns a function that stops it. */
  watch(fn: (level: 0 | 1) => void): () => void;
  close(): void;
}

/** A GPIO implementation: onoff on a device, the fake in tests and on benches (chosen in config). */
export interface GpioBackend {
  readonly name: "onoff" | "fake";
  open(line: number, edge: "rising" | "falling" | "both"): GpioInput;
}
