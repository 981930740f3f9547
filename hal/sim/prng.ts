/**
 * Small deterministic randomness for the simulator. Not for anything security-related.
 *
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit state advanced by the golden-ratio constant and
 * mixed with two multiply-xorshift rounds; period 2^32, good enough statistics for synthetic sensor
 * noise, and trivially re-implementable in any language, which keeps generated training data
 * reproducible outside Node too.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the UTF-16 code units of a string: turns names into 32-bit seeds. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A generator seeded by (seed, key, t): the same inputs always give the same stream, so a value at a
 * given time does not depend on which values were drawn before it (the model stays a pure function).
 */
export function streamAt(seed: number, key: string, t: number): () => number {
  const mixed = fnv1a(`${seed >>> 0}|${key}|${Math.floor(t)}`);
  return mulberry32(mixed);
}

/** Standard normal deviate from two uniforms (Box-Muller). */
export function gaussian(next: () => number): number {
  const u1 = Math.max(next(), 1e-12);
  const u2 = next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
