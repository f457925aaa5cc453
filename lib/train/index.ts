/** The training engine: optimizers, Keras-style callbacks, the fit loop, evaluation, checkpoints and progress. */
export * from './types';
export * from './optimizers';
export * from './callbacks';
export * from './progress';
export * from './checkpoint';
export * from './fit';
export * from './loss';
export * from './evaluate';
export * from './seeding';
export * from './feature-cache';
export * from './run';
export * from './run-record';
