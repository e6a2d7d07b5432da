// A small seeded pseudo-random source (mulberry32): the same seed gives the same faults and latencies, run after run.

/** Returns a number in [0, 1), like Math.random. */
export type Random = () => number;

/**
 * mulberry32: 32 bits of state, fast, and good enough for sampling latencies and faults (not for secrets).
 * Seeds are taken modulo 2^32, so any integer works.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
