/** Settings shared by the study's experiments, so each experiment file states only what differs. */
import type { AugmentConfig, CallbackConfig, DataConfig, ModelConfig, ScaleSettings, TrainingSettings } from './types';

/** EarlyStopping(val_loss, patience 10, restore_best_weights=True): used in every experiment of the study. */
export const STUDY_EARLY_STOPPING: NonNullable<CallbackConfig['earlyStopping']> = {
  monitor: 'val_loss',
  patience: 10,
  restoreBestWeights: true,
};

/** The study's images: 96x96 RGB. */
export const STUDY_IMAGE_SIZE = 96;

/**
 * Mild geometric augmentation for FER2013: faces are centred and upright there, so small rotations, shifts and zooms
 * plus mirroring add variety without moving the features that carry the expression out of the frame.
 */
export const FER_AUGMENTATION: AugmentConfig = {
  flip: 'horizontal',
  rotation: 0.05,
  zoom: 0.1,
  translation: [0.1, 0.1],
};

/**
 * Milder augmentation for the small FER nets: flips and shifts of up to 4 of 48 pixels, no rotation or zoom. Under
 * FER_AUGMENTATION they underfit (training accuracy below validation after 25 epochs); with this they keep learning.
 */
export const FER_FLIP_SHIFT: AugmentConfig = {
  flip: 'horizontal',
  rotation: 0,
  zoom: 0,
  translation: [4 / 48, 4 / 48],
};

/**
 * FER_FLIP_SHIFT with nearest-neighbour sampling, so every shift is by whole pixels: a bilinear shift by a fraction of
 * a pixel blurs a 48-pixel face, which the test images never are.
 */
export const FER_FLIP_PIXEL_SHIFT: AugmentConfig = { ...FER_FLIP_SHIFT, interpolation: 'nearest' };

/** Keras validation_split=0.2 (seed 27 comes from the run's seed); a 25% test split only for single-folder data. */
export function studyData(dataset: string, extra: Partial<DataConfig> = {}): DataConfig {
  return { dataset, validationFraction: 0.2, testFraction: 0.25, ...extra };
}

/** A model's name for descriptions, e.g. 'resnet18 + vgg top (frozen)'. */
export function describeModel(m: ModelConfig): string {
  const frozen = m.frozen ? ' (frozen)' : m.freezeUpTo !== undefined ? ` (frozen up to stage ${m.freezeUpTo})` : '';
  return `${m.name}${m.top === 'dense' ? '' : ` + ${m.top} top`}${frozen}`;
}

/**
 * Quick scale: the trial's own network, top, optimizer and callbacks (a trial may retime warm restarts to the quick
 * run's length, ScaleSettings.restarts) at 48 px on at most 250 train / 75 test images per
 * class, for 8 epochs, at batch at most 16. Batch norm is why the batch shrinks: validation and test run on its moving
 * statistics, which trail the weights by about 100 steps (Keras' momentum 0.99), so a run of only a hundred or two steps
 * evaluates far below what it has learnt (ResNet-18 + VGG top on CK+: test accuracy 0.31 at batch 32, 0.80 at batch 16,
 * in the same time). `lr` replaces a published rate that cannot learn in this budget; its reason is printed and recorded.
 */
export function quickScale(
  trial: Pick<TrainingSettings, 'batchSize' | 'optimizer'>,
  extra: { epochs?: number; lr?: ScaleSettings['lr'] } = {},
): ScaleSettings {
  const s = {
    imageSize: 48,
    epochs: extra.epochs ?? 8,
    batchSize: Math.min(trial.batchSize, 16),
    trainPerClass: 250,
    testPerClass: 75,
  };
  const lr = extra.lr ? `, lr ${extra.lr.value} instead of ${trial.optimizer.lr}` : '';
  return {
    ...s,
    ...(extra.lr ? { lr: extra.lr } : {}),
    description:
      `quick: ${s.imageSize} px, at most ${s.trainPerClass} train / ${s.testPerClass} test ` +
      `images per class, ${s.epochs} epochs, batch ${s.batchSize}${lr}`,
  };
}

/** `k` times a learning rate, without float noise in the records (10 * 1e-5 is 0.00010000000000000002). */
export const scaledLr = (lr: number, k: number): number => Number((k * lr).toPrecision(12));

/** Smoke scale: the published set-up (batch size included) on 2 train / 1 test images per class at 32 px for one epoch. */
export function smokeScale(trial: Pick<TrainingSettings, 'batchSize'>): ScaleSettings {
  return {
    imageSize: 32,
    epochs: 1,
    batchSize: trial.batchSize,
    trainPerClass: 2,
    testPerClass: 1,
    description: 'smoke: the published set-up on 2 train / 1 test images per class at 32 px, 1 epoch',
  };
}
