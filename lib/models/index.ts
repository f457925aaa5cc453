/** The model zoo: the registry, the study's ResNets, tops, the ImageNet ResNet-50 and DenseNets, small CNNs, summaries, saving and loading. */
export * from './common';
export * from './resnet';
export * from './tops';
export * from './summary';
export * from './small-cnn';
export * from './imagenet';
export * from './densenet';
export * from './io';
export * from './h5';
export * from './registry';
