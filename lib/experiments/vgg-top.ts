/** Experiment 3: ResNet-18 and ResNet-34 with the study's VGG-like top (Flatten, Dropout 0.2, Dense 4096 x2), Adam. */
import { STUDY_EARLY_STOPPING, STUDY_IMAGE_SIZE, quickScale, studyData } from './common';
import type { Experiment, ModelConfig, PublishedResult, Trial } from './types';

/** The spec does not name experiment 3's dataset; the sweep before it used the balanced 1x relabeled set. */
const DATASET = 'data_relabeled_balanced_1x';

function trial(name: string, depth: 18 | 34, lr: number, epochs: number, published: PublishedResult): Trial {
  const model: ModelConfig = { name: `resnet${depth}`, top: 'vgg', normalize: true, flatten: true, dropoutRate: 0.2 };
  return {
    name,
    description: `ResNet-${depth} + VGG top (Flatten, Dropout 0.2, Dense 4096, Dense 4096), Adam lr ${lr}, batch 64, up to ${epochs} epochs, on ${DATASET} (assumed)`,
    model,
    optimizer: { kind: 'adam', lr, beta1: 0.9, beta2: 0.999 },
    batchSize: 64,
    epochs,
    imageSize: STUDY_IMAGE_SIZE,
    callbacks: { earlyStopping: STUDY_EARLY_STOPPING },
    data: studyData(DATASET),
    published,
    quick: quickScale(model),
  };
}

export const vggTop: Experiment = {
  name: 'vgg-top',
  number: 3,
  title: 'VGG-like top',
  description: 'ResNet-18 and ResNet-34 backbones (Flatten, Dropout 0.2) under a VGG-like top of two Dense 4096 layers with Dropout 0.5, trained with Adam',
  trials: [
    trial('resnet18-vgg-adam-lr1e-5', 18, 1e-5, 100, { epochsRun: 21, loss: 0.6711, valLoss: 1.9891, notes: 'overfit after 15 epochs; figures at epoch 21' }),
    trial('resnet34-vgg-adam-lr1e-5', 34, 1e-5, 100, { notes: 'overfit after 12 epochs' }),
    trial('resnet34-vgg-adam-lr1e-6', 34, 1e-6, 100, {
      epochsRun: 100,
      bestEpoch: 90,
      loss: 1.3926,
      acc: 0.4806,
      valLoss: 1.7835,
      valAcc: 0.3428,
      testAccuracy: 0.3325,
      testLoss: 1.7661,
    }),
  ],
  defaultTrial: 'resnet18-vgg-adam-lr1e-5',
};
