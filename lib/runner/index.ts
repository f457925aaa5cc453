/** One run of one trial: resolve the data, assemble the model from the registry, train with lib/train, write the run record and report. */
export * from './run-experiment';
export * from './data';
export * from './model';
export * from './report';
export * from './record';
export * from './log';
export * from './baseline';
export * from './read';
export * from './gallery';
export * from './features';
export * from './dashboard';
