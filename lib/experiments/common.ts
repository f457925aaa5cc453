/** Settings shared by the study's experiments, so each experiment file states only what differs. */
import type { CallbackConfig, DataConfig, ModelConfig, ScaleSettings } from './types';

/** EarlyStopping(val_loss, patience 10, restore_best_weights=True): used in every experiment of the study. */
export const STUDY_EARLY_STOPPING: NonNullable<CallbackConfig['earlyStopping']> = { monitor: 'val_loss', patience: 10, restoreBestWeights: true };

/** The study's images: 96x96 RGB. */
export const STUDY_IMAGE_SIZE = 96;

/** Keras validation_split=0.2 (seed 27 comes from the run's seed); a 25% test split only for single-folder data. */
export function studyData(dataset: string, extra: Partial<DataConfig> = {}): DataConfig {
  return { dataset, validationFraction: 0.2, testFraction: 0.25, ...extra };
}

/** A model's name for descriptions, e.g. 'resnet18 + vgg top (frozen)'. */
export function describeModel(m: ModelConfig): string {
  return `${m.name}${m.top === 'dense' ? '' : ` + ${m.top} top`}${m.frozen ? ' (frozen)' : ''}`;
}

/**
 * Quick scale: 48 px, a per-class subset, a few epochs, and the small 4-layer CNN (cnn4) in place of `published`, keeping
 * its input normalisation. A run of a few minutes is too short for the study's ResNets: ResNet-18 trains at about 30
 * images/s at 96 px on a 2-core CPU with the native addon (`npm run bench`), and a quick run of it (32 px, 4 epochs,
 * the study's lr 0.1) stayed at chance accuracy. So the quick scale swaps the model and says so in its description
 * and run record.
 */
export function quickScale(published: ModelConfig, extra: Partial<ScaleSettings> = {}): ScaleSettings {
  const what = describeModel(published);
  const s: ScaleSettings = {
    imageSize: 48,
    epochs: 4,
    batchSize: 16,
    trainPerClass: 64,
    testPerClass: 32,
    model: {
      name: 'cnn4',
      top: 'dense',
      normalize: published.normalize,
      reason: `quick scale trains the small 4-layer CNN (cnn4) instead of ${what}, which learns too little in the few epochs of a run of a few minutes on a 2-core CPU`,
    },
    description: '',
    ...extra,
  };
  const model = s.model ? `cnn4 instead of ${what}` : what;
  s.description = `quick: ${model}, ${s.imageSize} px, at most ${s.trainPerClass ?? 'all'} train / ${s.testPerClass ?? 'all'} test images per class, ${s.epochs} epochs, batch ${s.batchSize}${s.lr !== undefined ? `, lr ${s.lr}` : ''}`;
  return s;
}
