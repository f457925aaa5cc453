/** Notebooks: parameter injection, headless runs through Jupyter + tslab, and keeping committed notebooks free of outputs. */
export * from './format';
export * from './params';
export * from './clean';
export * from './jupyter';
export * from './run';
export * from './demo-data';
export * from './trials';
