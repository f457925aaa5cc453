/** The wasm backend as the training kernels see it: tensors' views of wasm memory and outputs that free themselves on error. */
import * as tf from '@tensorflow/tfjs';
import { countInPlaceWrite } from '../models/common';

/** The part of the wasm backend these kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.TypedArray;
  disposeData(dataId: tf.DataId): boolean;
  refCount(dataId: tf.DataId): number;
}

/** A float32 tensor's view of wasm memory. */
export function heap(backend: WasmBackendLike, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** A new float32 output filled by `fill`, freed again if filling throws. */
export function nativeOutput(
  backend: WasmBackendLike,
  shape: number[],
  fill: (out: tf.TensorInfo) => void,
): tf.TensorInfo {
  return nativeOutputs(backend, [shape], ([out]) => fill(out))[0];
}

/** New float32 outputs, one per shape, filled by `fill`, all freed again if filling throws. */
export function nativeOutputs(
  backend: WasmBackendLike,
  shapes: number[][],
  fill: (outs: tf.TensorInfo[]) => void,
): tf.TensorInfo[] {
  const outs: tf.TensorInfo[] = [];
  try {
    for (const shape of shapes) outs.push(backend.makeOutput(shape, 'float32'));
    // Views of wasm memory are taken inside `fill`, after makeOutput: growing unshared memory detaches earlier ones.
    fill(outs);
  } catch (e) {
    for (const out of outs) backend.disposeData(out.dataId);
    throw e;
  }
  return outs;
}

/**
 * Readies `v` for an update in place, which its caller makes next: gives `v` a copy of its buffer when other tensors
 * share it, so that the update reaches `v` alone (tensors share buffers after clone() and Identity
 * (lib/kernels/wasm-kernels.ts), tf.variable(t) and v.assign(t): an optimizer state's copies, setState, setWeights; a
 * count other than 1 includes data not yet moved to wasm, count 0), and counts the write (countInPlaceWrite), which
 * folded copies of the weight notice.
 */
export function ownBuffer(backend: WasmBackendLike, v: tf.Variable): void {
  if (backend.refCount(v.dataId) === 1) {
    countInPlaceWrite(v);
    return;
  }
  const copy = backend.makeOutput(v.shape, 'float32');
  // v's view first: reading data not yet on wasm moves it there, which may grow memory.
  const from = backend.typedArrayFromHeap(v);
  (backend.typedArrayFromHeap(copy) as Float32Array).set(from);
  const t = tf.engine().makeTensorFromTensorInfo(copy);
  v.assign(t);
  t.dispose();
  countInPlaceWrite(v);
}
