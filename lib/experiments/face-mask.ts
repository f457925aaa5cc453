/** Experiment 5, the face-mask sanity check: ResNet-18 + VGG top on Face Mask 12K (Train / Validation / Test folders). */
import { STUDY_EARLY_STOPPING, STUDY_IMAGE_SIZE, quickScale, studyData } from './common';
import type { Experiment, ModelConfig } from './types';

const model: ModelConfig = { name: 'resnet18', top: 'vgg', normalize: true, flatten: true, dropoutRate: 0.2 };

export const faceMask: Experiment = {
  name: 'face-mask',
  number: 5,
  title: 'Face-mask sanity check',
  description: 'ResNet-18 + VGG top on Face Mask 12K: train on Train, validate on Validation, test on Test',
  trials: [
    {
      name: 'resnet18-vgg',
      description:
        'ResNet-18 + VGG top (Flatten, Dropout 0.2, Dense 4096 x2), Adam lr 1e-5, batch 64, up to 100 epochs, on face-mask-12k',
      model,
      optimizer: { kind: 'adam', lr: 1e-5, beta1: 0.9, beta2: 0.999 },
      batchSize: 64,
      epochs: 100,
      imageSize: STUDY_IMAGE_SIZE,
      callbacks: { earlyStopping: STUDY_EARLY_STOPPING },
      data: studyData('face-mask-12k'),
      published: {
        testAccuracy: 0.9788,
        epochsRun: 19,
        bestEpoch: 9,
        loss: 0.0023,
        valLoss: 0.0716,
        acc: 0.9992,
        valAcc: 0.9875,
        best: { loss: 0.0168, valLoss: 0.0523, acc: 0.993, valAcc: 0.985 },
        // The study's rows/columns were in os.walk order; stored here in affect-lab's sorted order (WithMask, WithoutMask).
        confusionClasses: ['WithMask', 'WithoutMask'],
        confusion: [
          [472, 11],
          [10, 499],
        ],
        perClass: {
          WithMask: { precision: 0.9793, recall: 0.9772 },
          WithoutMask: { precision: 0.9784, recall: 0.9804 },
        },
      },
      quick: quickScale(
        { batchSize: 64, optimizer: { kind: 'adam', lr: 1e-5 } },
        {
          epochs: 10,
          lr: {
            value: 1e-4,
            reason:
              'Adam at 1e-5 learns slowly in a quick run (validation accuracy 0.89 after 10 epochs on ' +
              'the synthetic set, 0.95 at 1e-4), so quick uses 1e-4',
          },
        },
      ),
    },
  ],
  defaultTrial: 'resnet18-vgg',
};
