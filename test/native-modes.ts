import { nativeConv, setNativeConvEnabled } from '../lib/kernels/native';

/** The convolution paths to test: native and wasm-only where the addon is built, else wasm-only. */
export function nativeModes(): { native: boolean; label: string }[] {
  const wasmOnly = { native: false, label: 'wasm kernels' };
  return nativeConv() ? [{ native: true, label: 'native addon' }, wasmOnly] : [wasmOnly];
}

/** Runs fn with the native path switched on or off, restoring the previous setting afterwards. */
export async function withNative<T>(on: boolean, fn: () => Promise<T> | T): Promise<T> {
  const before = setNativeConvEnabled(on);
  try {
    return await fn();
  } finally {
    setNativeConvEnabled(before);
  }
}
