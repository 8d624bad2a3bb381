/**
 * A reproducible random number generator (mulberry32), numbers in [0, 1): the same seed gives the same sequence,
 * so that a randomised trial (kill points, generated writes) can be replayed from the seed it prints.
 */
export function seededRandom(initialSeed: number): () => number {
  let seed = initialSeed;
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
