/** Experiment 2, the ResNet-18 optimiser sweep on the balanced 1x relabeled set: Adam at several batch sizes and rates, then SGD. */
import { STUDY_EARLY_STOPPING, STUDY_IMAGE_SIZE, quickScale, studyData } from './common';
import type { Experiment, ModelConfig, PublishedResult, Trial, TrialOptimizer } from './types';

const DATASET = 'data_relabeled_balanced_1x';
const ADAM = { kind: 'adam', beta1: 0.9, beta2: 0.999 } as const;

interface Row {
  name: string;
  batch: number;
  optimizer: TrialOptimizer;
  published: PublishedResult;
  grayscale?: boolean;
  normalize?: boolean;
  l2?: number;
  note?: string;
}

const ROWS: Row[] = [
  {
    name: 'adam-b64-lr1e-4',
    batch: 64,
    optimizer: { ...ADAM, lr: 1e-4 },
    published: {
      epochsRun: 7,
      loss: 0.0975,
      valLoss: 3.4805,
      notes: 'ended at epoch 7; validation loss above its starting 1.7675',
    },
  },
  {
    name: 'adam-b64-lr1e-6',
    batch: 64,
    optimizer: { ...ADAM, lr: 1e-6 },
    published: {
      epochsRun: 50,
      valLoss: 1.7125,
      loss: 1.0769,
      notes: 'stopped after 50 epochs; no overfitting yet, but validation loss kept diverging from training loss',
    },
  },
  {
    name: 'adam-b64-lr1e-7',
    batch: 64,
    optimizer: { ...ADAM, lr: 1e-7 },
    published: {
      epochsRun: 100,
      loss: 1.7903,
      valLoss: 1.9027,
      acc: 0.3466,
      valAcc: 0.2814,
      notes: 'all 100 epochs; too small a rate to converge',
    },
  },
  {
    name: 'adam-lr1e-1',
    batch: 64,
    optimizer: { ...ADAM, lr: 0.1 },
    published: { notes: 'heavily overfit after 14 epochs' },
    note: 'batch size not published; 64 assumed',
  },
  {
    name: 'adam-b4-lr1e-4',
    batch: 4,
    optimizer: { ...ADAM, lr: 1e-4 },
    published: { epochsRun: 4, loss: 0.7182, valLoss: 1.866, notes: 'figures after 4 epochs' },
  },
  {
    name: 'adam-b512-lr1e-3',
    batch: 512,
    optimizer: { ...ADAM, lr: 1e-3 },
    published: { notes: 'even worse results; overfit after 5 epochs' },
  },
  {
    name: 'adam-b32-lr1e-5-grayscale',
    batch: 32,
    optimizer: { ...ADAM, lr: 1e-5 },
    grayscale: true,
    published: { notes: 'grayscale input; overfit after 5 epochs' },
  },
  {
    name: 'adam-b64-lr1e-6-no-normalize',
    batch: 64,
    optimizer: { ...ADAM, lr: 1e-6 },
    normalize: false,
    published: {
      epochsRun: 24,
      notes: 'no Rescaling(1/255); progress like the normalized run, so stopped after 24 epochs',
    },
  },
  {
    name: 'sgd-b64-lr1e-3',
    batch: 64,
    optimizer: { kind: 'sgd', lr: 1e-3, momentum: 0 },
    published: {
      notes:
        'SGD without momentum or L2: the same pattern, training loss falling fast while validation loss lagged behind',
    },
  },
  {
    name: 'sgd-nesterov-b64-lr1e-3-l2',
    batch: 64,
    optimizer: { kind: 'sgd', lr: 1e-3, momentum: 0.9, nesterov: true },
    l2: 1e-3,
    published: { notes: 'SGD Nesterov momentum 0.9 + L2 1e-3: the same pattern' },
  },
];

function trial(r: Row): Trial {
  const o = r.optimizer;
  const opt =
    o.kind === 'sgd'
      ? `SGD lr ${o.lr}${o.momentum ? ` momentum ${o.momentum}` : ''}${o.nesterov ? ' Nesterov' : ''}`
      : `Adam lr ${o.lr}`;
  const flags = [
    r.grayscale && 'grayscale',
    r.normalize === false && 'no normalization',
    r.l2 && `L2 ${r.l2}`,
    r.note,
  ].filter(Boolean);
  const model: ModelConfig = {
    name: 'resnet18',
    top: 'dense',
    normalize: r.normalize ?? true,
    ...(r.l2 ? { l2: r.l2 } : {}),
  };
  return {
    name: r.name,
    description: `ResNet-18, ${opt}, batch ${r.batch}${flags.length ? ', ' + flags.join(', ') : ''}, on ${DATASET}`,
    model,
    optimizer: r.optimizer,
    batchSize: r.batch,
    epochs: 100,
    imageSize: STUDY_IMAGE_SIZE,
    callbacks: { earlyStopping: STUDY_EARLY_STOPPING },
    data: studyData(DATASET, r.grayscale ? { grayscale: true } : {}),
    published: r.published,
    // The sweep compares rates, so quick keeps every trial's own.
    quick: quickScale({ batchSize: r.batch, optimizer: r.optimizer }),
  };
}

export const adamSweep: Experiment = {
  name: 'adam-sweep',
  number: 2,
  title: 'ResNet-18 optimiser sweep',
  description:
    'ResNet-18 on data_relabeled_balanced_1x: Adam (beta1 0.9, beta2 0.999) across batch sizes ' +
    'and learning rates, grayscale and unnormalized inputs, then SGD with and without Nesterov ' +
    'momentum; no L2 or LR schedule unless stated',
  trials: ROWS.map(trial),
  // The study's first trial, and the one of its rates that learns within a quick run (1e-6 and below barely move there).
  defaultTrial: 'adam-b64-lr1e-4',
};
