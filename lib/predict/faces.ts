/**
 * From a photo to the model's inputs, the same in Node and in the exported web page (this module imports only tfjs and
 * lib/data's pure resize): face boxes from a face-api detector, square crops with a margin, and each crop resized and
 * converted exactly as the run's training data was (lib/data's bilinear resize of uint8 RGB, then the runner's luma for
 * grayscale models).
 */
import * as tf from '@tensorflow/tfjs';
import { resizeBilinear, type RgbImage } from '../data/resize';

/** A rectangle in image pixels. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type DetectorKind = 'ssd' | 'tiny';
export const DETECTOR_KINDS: readonly DetectorKind[] = ['ssd', 'tiny'];
export type DetectMode = 'auto' | 'always' | 'never';
export const DETECT_MODES: readonly DetectMode[] = ['auto', 'always', 'never'];

/** What turns a photo into faces; the CLI's defaults, also written into an exported page so that it agrees with the CLI. */
export interface FaceOptions {
  /** `auto`: images no larger than `autoMaxSide` on both sides are taken as face crops, bigger ones go through the detector. Default auto. */
  detectFaces: DetectMode;
  /** Default ssd (SSD MobileNet v1: tighter boxes than the tiny detector, about 0.5 s per photo on wasm). */
  detector: DetectorKind;
  /** Detections below this score are dropped. Default 0.5. */
  minConfidence: number;
  /** Added on each side of the detected box, as a fraction of its longer side. Default 0.15. */
  margin: number;
  /** Longest side (px) of an image that `auto` treats as a face crop. Default 256 (the datasets' crops are 48 to 224 px). */
  autoMaxSide: number;
}

export const DEFAULT_FACE_OPTIONS: FaceOptions = {
  detectFaces: 'auto',
  detector: 'ssd',
  minConfidence: 0.5,
  margin: 0.15,
  autoMaxSide: 256,
};

/** A detection as face-api reports it. */
export interface Detection {
  box: Box;
  score: number;
}

/** Finds faces in a decoded photo. */
export type FaceDetector = (img: RgbImage) => Promise<Detection[]>;

/** The part of face-api's API the detectors use; its Node and browser builds both have it. */
export interface FaceApi {
  detectAllFaces(input: tf.Tensor3D, options: unknown): Promise<{ box: Box; score: number }[]>;
  SsdMobilenetv1Options: new (o: { minConfidence: number }) => unknown;
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => unknown;
  nets: Record<'ssdMobilenetv1' | 'tinyFaceDetector', FaceApiNet> & {
    faceExpressionNet: FaceApiNet & {
      predictExpressions(input: tf.Tensor3D[]): Promise<Record<string, number> | Record<string, number>[]>;
    };
  };
}

/** A face-api net: loaded from a folder (Node) or a URL (browser). */
interface FaceApiNet {
  isLoaded: boolean;
  loadFromDisk?(dir: string): Promise<void>;
  loadFromUri?(uri: string): Promise<void>;
}

/** face-api's net of each detector, and the prefix of its weight files (`<prefix>-weights_manifest.json`, `<prefix>.bin`). */
export const DETECTOR_NETS: Record<DetectorKind, { net: 'ssdMobilenetv1' | 'tinyFaceDetector'; files: string }> = {
  ssd: { net: 'ssdMobilenetv1', files: 'ssd_mobilenetv1_model' },
  tiny: { net: 'tinyFaceDetector', files: 'tiny_face_detector_model' },
};

/** A detector over face-api's (loaded) net of `kind`; faces come back left to right. */
export function faceApiDetector(faceapi: FaceApi, kind: DetectorKind, minConfidence: number): FaceDetector {
  const options =
    kind === 'ssd'
      ? new faceapi.SsdMobilenetv1Options({ minConfidence })
      : new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: minConfidence });
  return async (img) => {
    const x = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
    try {
      const found = await faceapi.detectAllFaces(x, options);
      const faces = found.map((d) => ({
        box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height },
        score: d.score,
      }));
      return faces.sort((a, b) => a.box.x - b.box.x || a.box.y - b.box.y);
    } finally {
      x.dispose();
    }
  };
}

/**
 * The square crop for a detected box: the box's longer side plus `margin` of it on each side, centred on the box, shifted
 * (then, if still too big, shrunk) to lie inside the image; integer pixels.
 */
export function squareCrop(box: Box, imgWidth: number, imgHeight: number, margin: number): Box {
  const side = Math.max(
    1,
    Math.min(Math.round(Math.max(box.width, box.height) * (1 + 2 * margin)), imgWidth, imgHeight),
  );
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const x = clamp(Math.round(box.x + box.width / 2 - side / 2), imgWidth - side);
  const y = clamp(Math.round(box.y + box.height / 2 - side / 2), imgHeight - side);
  return { x, y, width: side, height: side };
}

/** The pixels of `box` (integer, inside the image) as an RgbImage. */
export function cropRgb(img: RgbImage, box: Box): RgbImage {
  const { x, y, width, height } = box;
  const out = new Uint8Array(width * height * 3);
  for (let r = 0; r < height; r++)
    out.set(img.data.subarray(((y + r) * img.width + x) * 3, ((y + r) * img.width + x + width) * 3), r * width * 3);
  return { data: out, height, width };
}

/** One face ready for the model: where it is and its pixels at the model's input size. */
export interface FaceInput {
  /** The crop in the photo's pixels; the whole image when it was taken as a face crop. */
  box: Box;
  /** The detector's score; absent when no detector ran. */
  score?: number;
  /** The crop resized to the model's input: size x size x 3 uint8 RGB. */
  rgb: Uint8Array;
}

/** Whether the detector runs on an image of this size under `opts` (auto: not for images already as small as a face crop). */
export function usesDetector(
  width: number,
  height: number,
  opts: Pick<FaceOptions, 'detectFaces' | 'autoMaxSide'>,
): boolean {
  return opts.detectFaces === 'always' || (opts.detectFaces === 'auto' && Math.max(width, height) > opts.autoMaxSide);
}

/** The faces of a photo at the model's input size: each detected face (none when none is found), or the whole image. */
export async function faceInputs(
  img: RgbImage,
  size: number,
  opts: FaceOptions,
  detect: FaceDetector | undefined,
): Promise<{ detected: boolean; faces: FaceInput[] }> {
  const whole = { x: 0, y: 0, width: img.width, height: img.height };
  if (!usesDetector(img.width, img.height, opts))
    return { detected: false, faces: [{ box: whole, rgb: resizeBilinear(img, size, size) }] };
  if (!detect) throw new Error('faceInputs: a detector is needed for this image');
  const found = await detect(img);
  return {
    detected: true,
    faces: found.map((d) => {
      const box = squareCrop(d.box, img.width, img.height, opts.margin);
      return { box, score: d.score, rgb: resizeBilinear(cropRgb(img, box), size, size) };
    }),
  };
}

/** tf.image.rgbToGrayscale's luma weights, as the runner applies them to a grayscale model's batches. */
const LUMA = [0.2989, 0.587, 0.114];

/** A face as a grayscale model sees it, for display: the runner's luma, replicated into 3 channels. */
export function grayRgb(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3)
    out[i] = out[i + 1] = out[i + 2] = Math.round(LUMA[0] * rgb[i] + LUMA[1] * rgb[i + 1] + LUMA[2] * rgb[i + 2]);
  return out;
}

/** A batch of faces as the model's input: float32 0..255, [n, size, size, 3], or [n, size, size, 1] for grayscale models. */
export function inputBatch(faces: readonly Uint8Array[], size: number, grayscale: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const flat = new Float32Array(faces.length * size * size * 3);
    faces.forEach((f, i) => flat.set(f, i * size * size * 3));
    const rgb = tf.tensor4d(flat, [faces.length, size, size, 3]);
    return grayscale ? tf.sum<tf.Tensor4D>(tf.mul(rgb, tf.tensor1d(LUMA)), -1, true) : rgb;
  });
}
