/**
 * The settings file (`affect-web.json`) an exported page reads: the model's record and the CLI's face settings, so that
 * the page predicts what `affect predict` does.
 */
import type { PredictorInfo } from './classify';
import type { FaceOptions } from './faces';

export const WEB_CONFIG_FILE = 'affect-web.json';

export interface WebConfig extends PredictorInfo {
  /** Page heading, e.g. the run's experiment and trial. */
  title: string;
  face: FaceOptions;
  /** Classes listed per face. */
  top: number;
}
