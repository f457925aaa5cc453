/** The shape every benchmark section returns; bench/main.ts collects them into bench/results.json and prints one table. */
export interface BenchRow {
  /** What was measured, e.g. "decode+resize 96x96 (face-mask PNG)". */
  metric: string;
  value: number;
  unit: string;
  /** The project's target for this row, when it has one, in the same unit. */
  target?: number;
  notes?: string;
}

export interface BenchSection {
  name: string;
  rows: BenchRow[];
  /** What could not be measured here, and why. */
  skipped: string[];
}
