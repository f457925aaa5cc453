/**
 * Loaded before every test file (package.json's test script: `--import`): turns off tfjs's warn() output, above all the
 * "install our node backend" banner that every process on the cpu backend prints. tfjs's PROD flag does only that.
 */
import * as tf from '@tensorflow/tfjs';

tf.env().set('PROD', true);
