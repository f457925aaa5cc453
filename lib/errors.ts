/**
 * Errors that callers must tell apart by type, never by message: a bad option or setting (nothing ran; the CLI exits 2)
 * and a run that started and failed (the CLI exits 1). Messages name the option (`trial`, `scale`, `data`), not a CLI flag.
 */

/** A bad option or setting: unknown experiment, trial, scale, model, top or backend, an invalid value, conflicting options. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A run that started and failed (e.g. its loss became NaN); `runDir` holds what it recorded. */
export class RunFailure extends Error {
  override name = 'RunFailure';
  constructor(
    message: string,
    readonly runDir: string,
  ) {
    super(message);
  }
}

/**
 * Data that cannot be used as given: a missing or unreadable dataset folder, a layout without classes or splits, no
 * images. Running again will not help (a queued trial fails at once instead of retrying); the CLI exits 1.
 */
export class DataError extends Error {
  override name = 'DataError';
}

/** A run stopped on request (its AbortSignal) before it finished; `runDir` keeps its last epoch checkpoint for a resume. */
export class RunAborted extends Error {
  override name = 'RunAborted';
  constructor(
    message: string,
    readonly runDir: string,
  ) {
    super(message);
  }
}
