// Seeded random inputs: every run draws a fresh seed (printed on failure); TEST_SEED repeats one.
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

export function runSeed(): number {
  const env = typeof process !== 'undefined' ? process.env?.TEST_SEED : undefined;
  return env ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}
