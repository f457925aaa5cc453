/** Classifying faces with a trained model, in Node and in the exported web page (imports only tfjs and browser-safe modules). */
import * as tf from '@tensorflow/tfjs';
import { faceInputs, grayRgb, inputBatch, type Box, type FaceDetector, type FaceOptions } from './faces';
import { gradCam } from './gradcam';
import type { RgbImage } from '../data/resize';

/** What a trained model needs to be used: the model, its class order and the input its training data had. */
export interface PredictorInfo {
  /** Class names in the model's output order. */
  classes: string[];
  /** Square input side in pixels. */
  imageSize: number;
  /** The model takes one gray channel (the run trained on grayscale). */
  grayscale: boolean;
}

export interface Predictor extends PredictorInfo {
  model: tf.LayersModel;
  /** Where it came from (a run folder or a saved model folder), for messages. */
  source: string;
}

/** Checks that the model's input and output agree with `info`; the message names `source`. */
export function checkPredictor(model: tf.LayersModel, info: PredictorInfo, source: string): void {
  const inShape = model.inputs[0].shape;
  const outShape = model.outputs[0].shape;
  const channels = info.grayscale ? 1 : 3;
  if (
    model.inputs.length !== 1 ||
    inShape.length !== 4 ||
    inShape[1] !== info.imageSize ||
    inShape[2] !== info.imageSize ||
    inShape[3] !== channels
  ) {
    throw new Error(
      `${source}: the model takes ${JSON.stringify(inShape)}, but its record says ${info.imageSize}x${info.imageSize}x${channels}`,
    );
  }
  if (model.outputs.length !== 1 || outShape[outShape.length - 1] !== info.classes.length) {
    throw new Error(
      `${source}: the model has ${JSON.stringify(outShape)} outputs, but its record names ` +
        `${info.classes.length} classes (${info.classes.join(', ')})`,
    );
  }
}

export interface ClassScore {
  label: string;
  probability: number;
}

export interface FacePrediction {
  /** The crop that was classified, in the photo's pixels (the whole image when no detector ran). */
  box: Box;
  /** The detector's score; absent when no detector ran. */
  score?: number;
  /** The `top` most probable classes, most probable first. */
  top: ClassScore[];
  /** Every class's probability, in class order. */
  probabilities: number[];
  /** With `explain`: Grad-CAM of the predicted class over the crop as the model saw it (in gray for a grayscale model). */
  explanation?: { rgb: Uint8Array; size: number; heatmap: Float32Array; layer: string };
}

export interface PhotoPrediction {
  width: number;
  height: number;
  /** Whether the face detector ran (false: the image was taken as a face crop). */
  detected: boolean;
  faces: FacePrediction[];
}

/** The k most probable classes. */
export function topClasses(probabilities: ArrayLike<number>, classes: readonly string[], k: number): ClassScore[] {
  return Array.from(probabilities, (p, i) => ({ label: classes[i], probability: p }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, Math.max(1, k));
}

/** Class probabilities of faces already at the model's input size (size x size x 3 uint8 each). */
export function classifyFaces(p: Predictor, faces: readonly Uint8Array[]): number[][] {
  if (faces.length === 0) return [];
  return tf.tidy(() => {
    const probs = p.model.predict(inputBatch(faces, p.imageSize, p.grayscale)) as tf.Tensor2D;
    return probs.arraySync();
  });
}

export type PhotoOptions = FaceOptions & {
  /** Classes listed per face. */
  top: number;
  /** Add each face's Grad-CAM. */
  explain?: boolean;
};

/**
 * Detects (per `opts`), crops and classifies the faces of decoded photos, all faces in one batch; with `explain`, adds
 * each face's Grad-CAM of its predicted class.
 */
export async function predictPhotos(
  p: Predictor,
  imgs: readonly RgbImage[],
  opts: PhotoOptions,
  detect: FaceDetector | undefined,
): Promise<PhotoPrediction[]> {
  const found = [];
  for (const img of imgs) found.push(await faceInputs(img, p.imageSize, opts, detect));
  const probs = classifyFaces(
    p,
    found.flatMap((f) => f.faces.map((face) => face.rgb)),
  );
  let k = 0;
  return found.map(({ detected, faces }, i) => ({
    width: imgs[i].width,
    height: imgs[i].height,
    detected,
    faces: faces.map((f) => {
      const pr = probs[k++];
      const out: FacePrediction = {
        box: f.box,
        ...(f.score !== undefined ? { score: f.score } : {}),
        top: topClasses(pr, p.classes, opts.top),
        probabilities: pr,
      };
      if (opts.explain) out.explanation = explainFace(p, f.rgb, pr.indexOf(Math.max(...pr)));
      return out;
    }),
  }));
}

/** Grad-CAM of class `classIndex` for one face at the model's input size. */
export function explainFace(
  p: Predictor,
  rgb: Uint8Array,
  classIndex: number,
): NonNullable<FacePrediction['explanation']> {
  const x = inputBatch([rgb], p.imageSize, p.grayscale);
  try {
    const cam = gradCam(p.model, x, { classIndex });
    return { rgb: p.grayscale ? grayRgb(rgb) : rgb, size: p.imageSize, heatmap: cam.heatmap, layer: cam.layer };
  } finally {
    x.dispose();
  }
}
