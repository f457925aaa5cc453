/**
 * Loaded before every test file (package.json's test script: `--import`): turns off tfjs's warn() output, above all the
 * "install our node backend" banner of the cpu backend, which tests that compute before (or without) initBackend get
 * as tfjs's default (initBackend('cpu') silences it itself). tfjs's PROD flag does only that.
 */
import * as tf from '@tensorflow/tfjs';

tf.env().set('PROD', true);
