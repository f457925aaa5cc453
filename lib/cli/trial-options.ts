/** The options `affect run` and `affect sweep` share: what a trial is trained on and the overrides of its settings. */
import { SCALES } from '../experiments';
import type { OptionSpec } from './args';

export const SYNTHETIC_OPTION: OptionSpec = {
  name: 'synthetic',
  type: 'boolean',
  description: 'train on the generated synthetic set (marked SYNTHETIC DATA everywhere)',
};

/** `--scale`, described for one run or for every trial of a sweep. */
export function scaleOption(description: string): OptionSpec {
  return { name: 'scale', type: 'string', choices: SCALES, default: 'quick', description };
}

/** The overrides of a trial's settings every run command takes (`affect run` adds `--lr`). */
export const TRIAL_OVERRIDE_OPTIONS: readonly OptionSpec[] = [
  { name: 'epochs', type: 'number', description: 'override the number of epochs' },
  { name: 'batch-size', type: 'number', description: 'override the batch size' },
  { name: 'image-size', type: 'number', description: 'override the image side in pixels' },
  { name: 'train-per-class', type: 'number', description: 'use at most N training images per class (0: all)' },
  {
    name: 'any-classes',
    type: 'boolean',
    description:
      "accept data whose classes differ from the trial's dataset (the report then has no comparison with the study)",
  },
];
