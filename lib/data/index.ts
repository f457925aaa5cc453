/** Datasets: scanning image folders, decoding, FER2013, manifests, splits and tf.data pipelines. */
export * from './scan';
export * from './image';
