/**
 * Notebooks: the short calls experiment notebooks are made of, parameter injection, headless runs through Jupyter + tslab,
 * and keeping committed notebooks free of outputs.
 */
export * from './format';
export * from './params';
export * from './clean';
export * from './jupyter';
export * from './run-notebook';
export * from './demo-data';
export * from './trials';
export * from './experiment';
export * from './results';
export * from './frames';
