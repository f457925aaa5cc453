/** Shared timing for benchmark sections. */

/**
 * `AFFECT_BENCH_SMOKE=1`: every section runs once, on tiny batches and images, to check that the bench works; its
 * figures mean nothing and no results file is written.
 */
export const SMOKE = process.env.AFFECT_BENCH_SMOKE === '1';

/** Timed repeats of each figure (medians of 3; 1 in smoke mode). */
export const REPEATS = SMOKE ? 1 : 3;

/**
 * Rounds of a run of ours and one of the peer's (medians of 5; 1 in smoke mode): more than REPEATS, because single
 * rounds of models that run level differ by about a tenth either way.
 */
export const PEER_ROUNDS = SMOKE ? 1 : 5;

/** The shortest timed run: a faster call (a small net's training step) is repeated to fill it, in both engines. */
export const MIN_RUN_S = 0.3;

/**
 * Untimed calls fill this many seconds before the timed runs, in both engines: a small net's training step on wasm took
 * ~30% longer over its first few hundred calls in a process than later (kernels and the JS around them alike), and a
 * full-scale trial runs at the later rate (0 in smoke mode).
 */
export const WARM_S = SMOKE ? 0 : 2;

export interface Timing {
  wallS: number;
  cpuS: number;
  /** Wall seconds of every repeat, fastest first. */
  all: number[];
}

/** Runs `fn` `repeats` times and keeps the median run (other jobs share the cores, so single runs are noisy). */
export async function timed(fn: () => Promise<unknown>, repeats = REPEATS): Promise<Timing> {
  return (await timedAlternating([fn], repeats))[0];
}

/**
 * Runs each of `fns` in turn, `repeats` rounds, and keeps each one's median run: alternating them means that load
 * from other jobs drifting during the measurement does not favour any of them.
 */
export async function timedAlternating(fns: (() => Promise<unknown>)[], repeats = REPEATS): Promise<Timing[]> {
  const runs = fns.map(() => [] as { wallS: number; cpuS: number }[]);
  for (let r = 0; r < repeats; r++) {
    for (const [i, fn] of fns.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await fn();
      const c = process.cpuUsage(c0);
      runs[i].push({ wallS: (performance.now() - t0) / 1000, cpuS: (c.user + c.system) / 1e6 });
    }
  }
  return runs.map((rs) => {
    rs.sort((a, b) => a.wallS - b.wallS);
    return { ...rs[Math.floor(rs.length / 2)], all: rs.map((x) => x.wallS) };
  });
}
