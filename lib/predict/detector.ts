/**
 * face-api's detectors in Node: its node-wasm build, which runs on this project's own tfjs (whatever backend is
 * active), with the weights the package ships.
 */
import * as path from 'node:path';
import { DETECTOR_NETS, faceApiDetector, type DetectorKind, type FaceApi, type FaceDetector } from './faces';

/** The folder of weight files inside the @vladmandic/face-api package. */
export function faceApiModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/**
 * face-api's Node build for tfjs + wasm: it requires @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm, the packages this
 * project runs on (its default Node build would require tfjs-node).
 */
export function faceApi(): FaceApi {
  return require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
}

/** Loads (once) a face-api net from the package's weights. */
export async function loadFaceApiNet(net: keyof FaceApi['nets']): Promise<FaceApi> {
  const api = faceApi();
  if (!api.nets[net].isLoaded) await api.nets[net].loadFromDisk!(faceApiModelDir());
  return api;
}

/** The detector of `kind`, its weights loaded. */
export async function loadDetector(kind: DetectorKind, minConfidence: number): Promise<FaceDetector> {
  return faceApiDetector(await loadFaceApiNet(DETECTOR_NETS[kind].net), kind, minConfidence);
}
