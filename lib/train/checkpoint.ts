/**
 * Training checkpoints: everything a run needs to continue as if never interrupted (model weights, optimizer
 * slots/step/lr, callback state incl. EarlyStopping's best weights, RNG states, epoch, history).
 * Layout: `<dir>/epoch-NNNN/{checkpoint.json, tensors.bin}`. Each is written into a temporary directory and
 * renamed into place, so a directory named epoch-NNNN is always complete; the newest one wins.
 * Weights are matched by position (model.getWeights() order), not by tfjs' per-process layer names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomicSync } from '../atomic';
import type { OptimizerState } from './optimizers';
import type { CallbackState, TrainHistory } from './types';

/** A checkpoint in memory. `epoch` counts completed epochs: the resumed run's initial epoch. */
export interface CheckpointData {
  epoch: number;
  seed?: number | string;
  history: TrainHistory;
  /** Names are informational (tfjs numbers layers per process); weights are matched by position. */
  weightNames: string[];
  weights: tf.Tensor[];
  optimizer: OptimizerState;
  callbacks: Record<string, CallbackState>;
  rngStates: Record<string, object>;
  /** Set when training ended early (EarlyStopping, NaN): resuming then trains no further. */
  stopped?: { epoch: number; reason: string };
}

const FORMAT = 'affect-lab-checkpoint';
const VERSION = 1;
const DIR_RE = /^epoch-(\d+)$/;

interface TensorEntry {
  dtype: 'float32' | 'int32';
  shape: number[];
  offset: number;
}

/** checkpoint.json: a checkpoint's data with each tensor as an entry into tensors.bin. */
interface CheckpointMeta {
  format: string;
  version: number;
  savedAt: string;
  epoch: number;
  seed?: number | string;
  stopped?: { epoch: number; reason: string };
  weightNames: string[];
  weights: TensorEntry[];
  optimizer: Omit<OptimizerState, 'slots'> & { slots: (Record<string, TensorEntry> | null)[] };
  callbacks: Record<string, { json: unknown; tensors?: TensorEntry[] }>;
  /** Absent in checkpoints written before the random generators' states were saved. */
  rngStates?: Record<string, object>;
  history: TrainHistory;
}

/** Names of the complete checkpoint directories under `dir`, oldest first. */
function completeCheckpoints(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => DIR_RE.test(n) && fs.existsSync(path.join(dir, n, 'checkpoint.json')))
    .sort();
}

/** The newest complete checkpoint directory under `dir`, or undefined. */
export function latestCheckpoint(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const found = completeCheckpoints(dir);
  return found.length ? path.join(dir, found[found.length - 1]) : undefined;
}

/** Saves a checkpoint atomically and removes all but the newest `keep` (default 1). Returns its directory. */
export async function saveCheckpoint(dir: string, data: CheckpointData, keep = 1): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const put = async (t: tf.Tensor): Promise<TensorEntry> => {
    if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new Error(`checkpoint: cannot save a ${t.dtype} tensor`);
    const values = await t.data();
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
    const entry: TensorEntry = { dtype: t.dtype, shape: t.shape, offset };
    chunks.push(bytes);
    offset += bytes.byteLength;
    return entry;
  };
  const weights: TensorEntry[] = [];
  for (const w of data.weights) weights.push(await put(w));
  const slots: (Record<string, TensorEntry> | null)[] = [];
  for (const s of data.optimizer.slots) {
    if (!s) {
      slots.push(null);
      continue;
    }
    const e: Record<string, TensorEntry> = {};
    for (const [k, t] of Object.entries(s)) e[k] = await put(t);
    slots.push(e);
  }
  const callbacks: Record<string, { json: unknown; tensors?: TensorEntry[] }> = {};
  for (const [name, st] of Object.entries(data.callbacks)) {
    const tensors: TensorEntry[] = [];
    for (const t of st.tensors ?? []) tensors.push(await put(t));
    callbacks[name] = { json: st.json, tensors: st.tensors ? tensors : undefined };
  }
  const meta: CheckpointMeta = {
    format: FORMAT,
    version: VERSION,
    savedAt: new Date().toISOString(),
    epoch: data.epoch,
    seed: data.seed,
    stopped: data.stopped,
    weightNames: data.weightNames,
    weights,
    optimizer: { ...data.optimizer, slots },
    callbacks,
    rngStates: data.rngStates,
    history: data.history,
  };
  const name = `epoch-${String(data.epoch).padStart(4, '0')}`;
  const final = path.join(dir, name);
  const tmp = path.join(dir, `.tmp-${name}-${process.pid}-${Date.now()}`);
  try {
    fs.mkdirSync(tmp);
    writeFileAtomicSync(path.join(tmp, 'tensors.bin'), Buffer.concat(chunks));
    writeFileAtomicSync(path.join(tmp, 'checkpoint.json'), JSON.stringify(meta, jsonNumbers));
  } catch (e) {
    // A full disk or a lost mount: leave no half-written folder; the previous checkpoint stays the one to resume from.
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`saving the checkpoint of epoch ${data.epoch} in ${dir} failed: ${(e as Error).message}`);
  }
  if (fs.existsSync(final)) {
    // Re-saving an epoch (a resumed run repeating it): move the old one aside first; older epochs stay intact.
    const old = `${tmp}-old`;
    fs.renameSync(final, old);
    fs.renameSync(tmp, final);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, final);
  }
  const all = completeCheckpoints(dir);
  for (const n of all.slice(0, Math.max(0, all.length - Math.max(1, keep)))) {
    fs.rmSync(path.join(dir, n), { recursive: true, force: true });
  }
  for (const n of fs.readdirSync(dir)) {
    // Temporary directories left by a killed process.
    if (n.startsWith('.tmp-epoch-') && !n.includes(`-${process.pid}-`))
      fs.rmSync(path.join(dir, n), { recursive: true, force: true });
  }
  return final;
}

/** JSON cannot hold NaN/Infinity (histories can): store them as strings and revive them on reading. */
function jsonNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? `__num:${v}` : v;
}
function reviveNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'string' && v.startsWith('__num:') ? Number(v.slice(6)) : v;
}

/**
 * Reads a checkpoint: `dir` is either a checkpoint directory or a checkpoint root (its newest is read).
 * The caller owns (and must dispose) the returned tensors.
 */
export function readCheckpoint(dir: string): CheckpointData {
  const ckptDir = fs.existsSync(path.join(dir, 'checkpoint.json')) ? dir : latestCheckpoint(dir);
  if (!ckptDir) throw new Error(`checkpoint: no checkpoint found in ${dir}`);
  const metaFile = path.join(ckptDir, 'checkpoint.json');
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'), reviveNumbers) as CheckpointMeta;
  } catch (e) {
    throw new Error(`checkpoint: ${metaFile} is unreadable (${(e as Error).message})`);
  }
  if (meta.format !== FORMAT || meta.version !== VERSION) {
    throw new Error(`checkpoint: ${metaFile} is not an ${FORMAT} version ${VERSION} file`);
  }
  const bin = fs.readFileSync(path.join(ckptDir, 'tensors.bin'));
  const get = (e: TensorEntry): tf.Tensor => {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const src = bin.subarray(e.offset, e.offset + n * 4);
    if (src.byteLength !== n * 4) throw new Error(`checkpoint: ${ckptDir}/tensors.bin is truncated`);
    const copy = new Uint8Array(src).buffer;
    return tf.tensor(e.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy), e.shape, e.dtype);
  };
  const callbacks: Record<string, CallbackState> = {};
  for (const [name, st] of Object.entries(meta.callbacks)) {
    callbacks[name] = { json: st.json, tensors: st.tensors?.map(get) };
  }
  return {
    epoch: meta.epoch,
    seed: meta.seed,
    stopped: meta.stopped,
    history: meta.history,
    weightNames: meta.weightNames,
    weights: meta.weights.map(get),
    optimizer: {
      ...meta.optimizer,
      slots: meta.optimizer.slots.map((s) =>
        s ? Object.fromEntries(Object.entries(s).map(([k, e]) => [k, get(e)])) : null,
      ),
    },
    callbacks,
    rngStates: meta.rngStates ?? {},
  };
}

/** Disposes the tensors of a checkpoint read with readCheckpoint. */
export function disposeCheckpoint(c: CheckpointData): void {
  tf.dispose(c.weights);
  for (const s of c.optimizer.slots) if (s) tf.dispose(Object.values(s));
  for (const st of Object.values(c.callbacks)) if (st.tensors) tf.dispose(st.tensors);
}
