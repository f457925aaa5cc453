/** Shared timing for benchmark sections. */

export interface Timing {
  wallS: number;
  cpuS: number;
  /** Wall seconds of every repeat, fastest first. */
  all: number[];
}

/** Runs `fn` `repeats` times and keeps the median run (other jobs share the cores, so single runs are noisy). */
export async function timed(fn: () => Promise<unknown>, repeats = 3): Promise<Timing> {
  return (await timedAlternating([fn], repeats))[0];
}

/**
 * Runs each of `fns` in turn, `repeats` rounds, and keeps each one's median run: alternating them means that load
 * from other jobs drifting during the measurement does not favour any of them.
 */
export async function timedAlternating(fns: (() => Promise<unknown>)[], repeats = 3): Promise<Timing[]> {
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
