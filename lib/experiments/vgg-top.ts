/** Experiment 3: ResNet-18 and ResNet-34 with the study's VGG-like top (Flatten, Dropout 0.2, Dense 4096 x2), Adam. */
import { STUDY_EARLY_STOPPING, STUDY_IMAGE_SIZE, quickScale, scaledLr, studyData } from './common';
import type { Experiment, ModelConfig, PublishedResult, Trial } from './types';

/** The study's README: "the same data - balanced dataset with improved labels" as the ResNet-18 sweep. */
const DATASET = 'data_relabeled_balanced_1x';

/** `epochs` undefined: the study names no limit (EarlyStopping ended the run first); 100 is assumed and said. */
function trial(
  name: string,
  depth: 18 | 34,
  lr: number,
  epochs: number | undefined,
  published: PublishedResult,
): Trial {
  const model: ModelConfig = { name: `resnet${depth}`, top: 'vgg', normalize: true, flatten: true, dropoutRate: 0.2 };
  return {
    name,
    description:
      `ResNet-${depth} + VGG top (Flatten, Dropout 0.2, Dense 4096, Dense 4096), Adam lr ${lr}, ` +
      `batch 64, up to ${epochs ?? 100} epochs${epochs === undefined ? ' (limit not published)' : ''}, on ${DATASET}`,
    model,
    optimizer: { kind: 'adam', lr, beta1: 0.9, beta2: 0.999 },
    batchSize: 64,
    epochs: epochs ?? 100,
    imageSize: STUDY_IMAGE_SIZE,
    callbacks: { earlyStopping: STUDY_EARLY_STOPPING },
    data: studyData(DATASET),
    published,
    quick: quickScale(
      { batchSize: 64, optimizer: { kind: 'adam', lr } },
      {
        lr: {
          value: scaledLr(lr, 10),
          reason:
            `Adam at ${lr} learns slowly in a quick run (ResNet-18, test accuracy 0.72 after 8 epochs ` +
            `on the synthetic set at 1e-5, 0.90 at 1e-4), so quick uses 10x the rate`,
        },
      },
    ),
  };
}

export const vggTop: Experiment = {
  name: 'vgg-top',
  number: 3,
  title: 'VGG-like top',
  description:
    'ResNet-18 and ResNet-34 backbones (Flatten, Dropout 0.2) under a VGG-like top of two ' +
    'Dense 4096 layers with Dropout 0.5, trained with Adam on data_relabeled_balanced_1x',
  trials: [
    trial('resnet18-vgg-adam-lr1e-5', 18, 1e-5, undefined, {
      epochsRun: 21,
      loss: 0.6711,
      valLoss: 1.9891,
      notes: 'overfit after 15 epochs; ended after epoch 21',
    }),
    // The README calls 2.057 -> 4.132 the training loss; a rising training loss is odd, but it is what was published.
    trial('resnet34-vgg-adam-lr1e-5', 34, 1e-5, undefined, {
      epochsRun: 22,
      loss: 4.132,
      notes:
        'heavily overfit after 12 epochs; training loss 2.057 at the start, 4.132 when EarlyStopping ended it at epoch 22',
    }),
    trial('resnet34-vgg-adam-lr1e-6', 34, 1e-6, 100, {
      epochsRun: 100,
      bestEpoch: 90,
      loss: 1.3926,
      acc: 0.4806,
      valLoss: 1.7835,
      valAcc: 0.3428,
      testAccuracy: 0.3325,
      testLoss: 1.7661,
      notes:
        'no overfitting, but training and validation loss diverged from about epoch 50; training accuracy rose almost linearly',
    }),
  ],
  defaultTrial: 'resnet18-vgg-adam-lr1e-5',
};
