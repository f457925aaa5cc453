/** Datasets: scanning image folders, decoding, FER2013, manifests, splits and tf.data pipelines. */
export * from './scan';
export * from './image';
export * from './source';
export * from './fer2013';
export * from './fer2013-folders';
export * from './pipeline';
export * from './groups';
export * from './manifest';
export * from './augment-layers';
export * from './augment';
export * from './datasplit';
export * from './relabel';
export * from './synth';
export * from './csv';
export * from './outdir';
export * from './progress';
