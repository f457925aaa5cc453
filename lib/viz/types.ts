/** Shapes shared by the figure builders: a plotly figure spec and the training history they plot. */

/** A plotly.js figure as plain data (what `Plotly.newPlot(div, data, layout)` takes), so tests can inspect it. */
export interface Figure {
  // plotly's trace and layout objects are open-ended; keeping them loose avoids tying callers to plotly's type package.
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

/** A training history as the training engine records it: per-epoch logs (`loss`, `acc`, `val_loss`, `val_acc`, `lr`, ...). */
export interface History {
  /** 0-based epoch numbers, as the training engine and Keras' History.epoch record them; plots show them 1-based, as Keras prints them. */
  epochs: number[];
  logs: Record<string, number[]>;
  /** The 0-based epoch whose weights were kept (EarlyStopping's restore_best_weights); when absent, the epoch with the lowest val_loss. */
  bestEpoch?: number;
}

/** Which data a run used, for the results table: the study used the full Kaggle sets. */
export type DataKind = 'synthetic' | 'real sample' | 'full Kaggle set';
