/**
 * The training engine: losses, optimizers, Keras-style callbacks, the fit loop, evaluation, checkpoints, snapshot
 * ensembles, seeding, progress and the feature cache.
 */
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
export * from './split';
export * from './snapshots';
