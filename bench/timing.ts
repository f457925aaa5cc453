/** Shared timing for benchmark sections. */

export interface Timing {
  wallS: number;
  cpuS: number;
  /** Wall seconds of every repeat, fastest first. */
  all: number[];
}

/** Runs `fn` `repeats` times and keeps the median run (other jobs share the cores, so single runs are noisy). */
export async function timed(fn: () => Promise<unknown>, repeats = 3): Promise<Timing> {
  const runs: { wallS: number; cpuS: number }[] = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const c = process.cpuUsage(c0);
    runs.push({ wallS: (performance.now() - t0) / 1000, cpuS: (c.user + c.system) / 1e6 });
  }
  runs.sort((a, b) => a.wallS - b.wallS);
  return { ...runs[Math.floor(runs.length / 2)], all: runs.map((r) => r.wallS) };
}
