/**
 * The wasm backend's training kernels and thread set-up, by module:
 * - ./wasm-kernels.ts: WASM_TRAINING_KERNELS (what is registered over the stock wasm kernels, and why), their kernel
 *   functions, and their registration and its undoing;
 * - ./native-dispatch.ts: the kernels the native addon (./native.ts) runs on wasm memory (convolutions, matrix products,
 *   batch norm, ...); each returns undefined where the addon is off or does not cover a call, and the stock kernel runs;
 * - ./wasm-gradients.ts: the convolution and max-pool gradients, natively, else as valid convolutions run by wasm's own
 *   XNNPACK `Conv2D` kernel, with JS loops over wasm memory for the cheap re-layouts only;
 * - ./batch-norm.ts and ./relu.ts: batch norm in training and ReLU's gradient as native kernels, with the op and the
 *   gradient that use them (installed with the kernels);
 * - ./wasm-threads.ts: the threaded SIMD build in Node; ./wasm-memory.ts: the backend as the kernels see it.
 * lib/backend.ts calls registerWasmTrainingKernels and configureWasmThreads before wasm initialises; restoreWasmPatches
 * undoes every global patch they make. Kernels call other kernels' `kernelFunc`s, never `tf.*` ops (which would corrupt
 * reference counts inside a kernel), and free their intermediates with `backend.disposeData`.
 */
import { restoreStockWasmKernels } from './wasm-kernels';
import { restoreWasmThreadPatches } from './wasm-threads';

export type { WasmBackendLike } from './wasm-memory';
export {
  nativeBatchNormInfo,
  nativeBinaryInfo,
  nativeConv2DInfo,
  nativeMatMulInfo,
  nativeReduceInfo,
  nativeSqrtInfo,
} from './native-dispatch';
export { conv2DBackpropFilterInfo, conv2DBackpropInputInfo, maxPoolGradInfo } from './wasm-gradients';
export {
  WASM_TRAINING_KERNELS,
  registerWasmTrainingKernels,
  restoreStockWasmKernels,
  takeStockFallbacks,
  tileInfo,
  type TrainingKernel,
} from './wasm-kernels';
export { configureWasmThreads, restoreWasmThreadPatches, type WasmThreadSetup } from './wasm-threads';

/**
 * Puts back every global the wasm set-up patched: tfjs's kernel registry (registerWasmTrainingKernels), and
 * `URL.createObjectURL`, `os.cpus` and the multithread flag (configureWasmThreads). Safe to call at any time and more
 * than once; the set-up functions can be called again afterwards.
 */
export function restoreWasmPatches(): void {
  restoreStockWasmKernels();
  restoreWasmThreadPatches();
}
