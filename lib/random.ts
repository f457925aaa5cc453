/** Seeded randomness: every random choice in affect-lab goes through here, so a seed reproduces a split, an augmentation and an initialisation. */
import seedrandom from 'seedrandom';

/** A uniform [0, 1) generator that can save and restore its state (for resumable runs). */
export interface Rng {
  (): number;
  state(): object;
}

/** A seeded generator; `state` restores one saved with `rng.state()`. */
export function makeRng(seed: string | number, state?: object): Rng {
  return seedrandom(String(seed), { state: (state ?? true) as boolean }) as unknown as Rng;
}

/** Integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Uniform float in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Standard normal draw (Box-Muller). */
export function normal(rng: Rng): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** A shuffled copy (Fisher-Yates). */
export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** `k` items drawn with replacement. */
export function sampleWithReplacement<T>(rng: Rng, items: readonly T[], k: number): T[] {
  if (items.length === 0 && k > 0) throw new Error('cannot sample from an empty list');
  return Array.from({ length: k }, () => items[randInt(rng, items.length)]);
}
