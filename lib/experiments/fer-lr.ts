/**
 * FER2013 project 2: the majority-class baseline, then Adam at three learning rates with EarlyStopping and
 * ReduceLROnPlateau, on FER2013's 7 classes at 48x48x1; finally without restoring the best weights.
 */
import { quickScale } from './common';
import type { CallbackConfig, DataConfig, Experiment, PublishedResult, Trial } from './types';

export const FER_LR_SOURCE = 'FER2013 project "learning-rate experiments" (summarised in affect-lab issue 12)';

/**
 * The project split all of FER2013 into 25,120 / 7,179 / 3,588 (70/20/10); with the challenge's Training usage as
 * train/ and PublicTest as test/, validation is the same 20% share carved from train/.
 */
const DATA: DataConfig = { dataset: 'fer2013', grayscale: true, validationFraction: 0.2, testFraction: 0.25 };

const callbacks = (restoreBestWeights: boolean): CallbackConfig => ({
  earlyStopping: { monitor: 'val_loss', patience: 7, restoreBestWeights },
  reduceLROnPlateau: { monitor: 'val_loss', factor: 0.1, patience: 5 },
});

/** The project's network is not described in its summary: its runs use the 4-layer net of fer-small-cnn. */
function adamTrial(lr: number, restore: boolean, published: PublishedResult): Trial {
  return {
    name: `adam-lr${lr.toExponential()}${restore ? '-restore' : ''}`,
    description:
      `4-layer CNN (the project's own network is not described), Adam lr ${lr}, batch 128, up to ` +
      `50 epochs, EarlyStopping(patience 7, restore_best_weights=${restore ? 'True' : 'False'}), ` +
      `ReduceLROnPlateau(0.1, 5), on FER2013 (7 classes, 48x48 grayscale)`,
    model: { name: 'cnn4', top: 'dense', normalize: true },
    optimizer: { kind: 'adam', lr },
    batchSize: 128,
    epochs: 50,
    imageSize: 48,
    callbacks: callbacks(restore),
    data: DATA,
    published: { ...published, source: FER_LR_SOURCE },
    // The rates are what this experiment compares: quick keeps them.
    quick: quickScale({ batchSize: 128, optimizer: { kind: 'adam', lr } }),
  };
}

const majority: Trial = {
  name: 'majority',
  description:
    'majority-class baseline: always the most frequent training class, scored by the training class frequencies; nothing is trained',
  model: { name: 'majority', top: 'dense' },
  optimizer: { kind: 'adam', lr: 1e-3 },
  batchSize: 128,
  epochs: 0,
  imageSize: 48,
  callbacks: {},
  data: DATA,
  published: { testAccuracy: 0.25, notes: 'majority-class baseline 25% (always "happy")', source: FER_LR_SOURCE },
  quick: quickScale({ batchSize: 128, optimizer: { kind: 'adam', lr: 1e-3 } }, { epochs: 0 }),
};

export const ferLr: Experiment = {
  name: 'fer-lr',
  title: 'Majority baseline and learning rates on FER2013',
  description:
    'The majority-class baseline, then Adam at 0.01, 0.001 and 0.0001 (batch 128, up to 50 ' +
    'epochs, EarlyStopping patience 7, ReduceLROnPlateau 0.1 / 5) on FER2013, 7 classes at ' +
    '48x48x1, without and with restoring the best weights',
  trials: [
    majority,
    adamTrial(1e-2, false, { valAcc: 0.21, notes: 'far too high: 21% validation accuracy' }),
    adamTrial(1e-3, false, { notes: 'much better, but an erratic validation curve' }),
    adamTrial(1e-4, false, { notes: 'smoother curves; the project settled on restore_best_weights=False' }),
    adamTrial(1e-4, true, { notes: 'restoring the best weights picked a worse model in that project' }),
  ],
  defaultTrial: 'adam-lr1e-3',
};
