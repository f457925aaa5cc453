/** Experiment 4: a frozen ImageNet ResNet-50 (caffe preprocessing) under a Dense 2048/512 top; SGD, then AdamW, then on-the-fly augmentation. */
import { STUDY_EARLY_STOPPING, STUDY_IMAGE_SIZE, quickScale, studyData } from './common';
import type { AugmentConfig, Experiment, OptimizerConfig, PublishedResult, Trial } from './types';

/** Keras RandomFlip('horizontal'), RandomRotation(0.1), RandomZoom(0.15), RandomTranslation(0.15, 0.15). */
export const STUDY_AUGMENTATION: AugmentConfig = { flip: 'horizontal', rotation: 0.1, zoom: 0.15, translation: [0.15, 0.15] };

const SET_1X = 'data_relabeled_balanced_1x';
const SET_3X = 'data_relabeled_balanced_3x';

interface Row {
  name: string;
  optimizer: OptimizerConfig;
  epochs: number;
  frozen?: boolean;
  dataset?: string;
  augment?: boolean;
  published: PublishedResult;
}

const SGD = (lr: number): OptimizerConfig => ({ kind: 'sgd', lr, momentum: 0.9 });
const ADAMW: OptimizerConfig = { kind: 'adamw', lr: 1e-5, weightDecay: 0.004 };

const ROWS: Row[] = [
  { name: 'sgd-lr1e-5-15ep', optimizer: SGD(1e-5), epochs: 15, published: { notes: 'first 15-epoch run' } },
  { name: 'sgd-lr1e-5-150ep', optimizer: SGD(1e-5), epochs: 150, published: { notes: '150-epoch run' } },
  { name: 'sgd-lr5e-5-500ep', optimizer: SGD(5e-5), epochs: 500, published: { epochsRun: 250, notes: 'stopped at epoch 250' } },
  { name: 'adamw-unfrozen', optimizer: ADAMW, epochs: 100, frozen: false, published: { notes: 'backbone trainable; overfit after 6 epochs' } },
  { name: 'adamw-frozen', optimizer: ADAMW, epochs: 100, published: { epochsRun: 54, loss: 1.0551, valLoss: 1.5726, acc: 0.6302, valAcc: 0.4417, notes: 'figures at epoch 54' } },
  {
    name: 'adamw-frozen-3x',
    optimizer: ADAMW,
    epochs: 100,
    dataset: SET_3X,
    published: { epochsRun: 80, loss: 0.4867, valLoss: 1.2748, acc: 0.8315, valAcc: 0.5926, testAccuracy: 0.3868, notes: 'figures at epoch 80' },
  },
  { name: 'adamw-frozen-augment-3x', optimizer: ADAMW, epochs: 500, dataset: SET_3X, augment: true, published: { notes: 'crashed after 11h48m' } },
  {
    name: 'adamw-frozen-augment-1x',
    optimizer: ADAMW,
    epochs: 500,
    augment: true,
    published: { epochsRun: 111, bestEpoch: 101, loss: 1.5212, valLoss: 1.6414, acc: 0.4377, valAcc: 0.3989, testAccuracy: 0.3884 },
  },
];

function trial(r: Row): Trial {
  const frozen = r.frozen ?? true;
  const dataset = r.dataset ?? SET_1X;
  const o = r.optimizer;
  const opt = o.kind === 'sgd' ? `SGD momentum 0.9 lr ${o.lr}` : `AdamW lr ${o.lr} weight decay ${o.weightDecay}`;
  // Caffe preprocessing happens inside the pretrained builder, so no Rescaling(1/255).
  const model = { name: 'resnet50-imagenet', top: 'pretrained', normalize: false, frozen } as const;
  return {
    name: r.name,
    description: `ImageNet ResNet-50 (${frozen ? 'frozen' : 'unfrozen'}) + Dense 2048/512 top, ${opt}, batch 64, up to ${r.epochs} epochs, on ${dataset}${r.augment ? ', on-the-fly augmentation (flip, rotation 0.1, zoom 0.15, translation 0.15)' : ''}`,
    model,
    optimizer: r.optimizer,
    batchSize: 64,
    epochs: r.epochs,
    imageSize: STUDY_IMAGE_SIZE,
    callbacks: { earlyStopping: STUDY_EARLY_STOPPING },
    data: studyData(dataset, r.augment ? { augment: STUDY_AUGMENTATION } : {}),
    published: r.published,
    // The small CNN has no caffe preprocessing of its own, so it rescales its input.
    quick: quickScale({ ...model, normalize: true }),
  };
}

export const pretrained: Experiment = {
  name: 'pretrained',
  number: 4,
  title: 'Frozen ImageNet ResNet-50',
  description: 'Keras ResNet50(weights="imagenet", pooling="avg") with caffe preprocessing under Dense 2048 / Dropout 0.5 / Dense 512 / Dropout 0.2; SGD, AdamW frozen and unfrozen, the 3x set, and on-the-fly augmentation',
  trials: ROWS.map(trial),
  defaultTrial: 'adamw-frozen',
};
