/**
 * Entry file of each pthread worker of the threaded SIMD wasm build in Node (see configureWasmThreads in ./wasm-threads.ts).
 * The stock backend starts workers from a blob: URL, which Node's worker_threads refuse (ERR_WORKER_PATH);
 * this real file runs the same worker code, and points its "import the main script" step at the package's
 * real main script instead of the blob the main thread sends.
 */
import * as path from 'node:path';

const outDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
const { wasmWorkerContents } = require(path.join(outDir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
  wasmWorkerContents: string;
};
const mainScript = path.join(outDir, 'tfjs-backend-wasm-threaded-simd.js');
// The worker code turns the received main-script Blob into a URL and imports it: answer with the real file.
URL.createObjectURL = () => mainScript;
URL.revokeObjectURL = () => undefined;
// Direct eval on purpose: the worker code needs this module's `require`. Newlines inside its string
// literals arrive unescaped from the template literal that ships it, hence the replace (as the stock loader does).
eval(wasmWorkerContents.replace(/\n/g, '\\n'));
