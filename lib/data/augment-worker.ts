/** Worker-thread entry for AugmentPool: compiles the pipeline once, then augments the images it is sent. */
import { parentPort, workerData } from 'node:worker_threads';
import { compileAugmentation } from './augment';
import { makeRng } from '../random';

const { spec, source } = workerData as { spec: unknown; source?: string };
const aug = compileAugmentation(spec, source);
parentPort!.on('message', (m: { id: number; data: Uint8Array; width: number; height: number; seed: string }) => {
  try {
    const out = aug.apply({ data: m.data, width: m.width, height: m.height }, makeRng(m.seed));
    parentPort!.postMessage({ id: m.id, data: out.data }, [out.data.buffer]);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
