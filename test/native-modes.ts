import { nativeConv } from '../lib/kernels/native';

export { withNativeConv as withNative } from '../lib/kernels/native';

/** The convolution paths to test: native and wasm-only where the addon is built, else wasm-only. */
export function nativeModes(): { native: boolean; label: string }[] {
  const wasmOnly = { native: false, label: 'wasm kernels' };
  return nativeConv() ? [{ native: true, label: 'native addon' }, wasmOnly] : [wasmOnly];
}
