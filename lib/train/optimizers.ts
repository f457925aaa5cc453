/**
 * Optimizers with Keras' update rules, a settable learning rate and a serialisable state.
 * tfjs' MomentumOptimizer accumulates `a = m*a + g; w -= lr*a`, which equals Keras' `v = m*v - lr*g; w += v`
 * only while lr is constant; after a ReduceLROnPlateau step they differ, so SGD is implemented here as Keras
 * does it. tfjs has no AdamW, and its Adam's epsilon default (1e-8) differs from Keras' (1e-7).
 * On the wasm backend with the native addon each weight is updated in one fused native pass (lib/kernels/optimizer.ts),
 * with the same float32 arithmetic; elsewhere by the tfjs ops below. trainStep hands them the gradient of the loss
 * without the L2 penalties and each weight's L2 coefficient (applyGradientsWithL2): the penalty's gradient 2 * l2 * w
 * joins that pass, which also reads the penalty's value.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedAdamUpdate, fusedSgdUpdate } from '../kernels/optimizer';
import { sumOfSquares } from '../models/common';
import type { OptimizerConfig } from './types';

/** The optimizer's saved state: slots are listed per variable in the order of the given variable names. */
export interface OptimizerState {
  config: Required<OptimizerConfig>;
  iterations: number;
  learningRate: number;
  /** For each variable name asked for: its slot tensors by slot name (absent before its first update). */
  slots: (Record<string, tf.Tensor> | null)[];
}

type Slots = Record<string, tf.Variable>;

/**
 * Keras L2 penalty coefficients (l2 * sum w² in the loss) by variable name: applyGradientsWithL2 adds each penalty's
 * gradient, 2 * l2 * w at the weights before the step, to the variable's gradient.
 */
export type L2Coefficients = ReadonlyMap<string, number>;

/** What one update reads of its weight before the step: sum w² with an L2 penalty (a tensor off the native path), else 0. */
type Squares = number | tf.Scalar;

/** Base of our optimizers: per-variable slots keyed by variable name, an iteration count, a float32 lr. */
export abstract class KerasOptimizer extends tf.Optimizer {
  private lr: number;
  protected readonly slots = new Map<string, Slots>();

  constructor(readonly config: Required<OptimizerConfig>) {
    super();
    this.lr = Math.fround(config.lr);
  }

  /** The learning rate, stored as float32 as Keras stores it in a variable. */
  get learningRate(): number {
    return this.lr;
  }

  set learningRate(lr: number) {
    if (!(lr >= 0) || !Number.isFinite(lr))
      throw new Error(`optimizer: learning rate must be a finite number >= 0, got ${lr}`);
    this.lr = Math.fround(lr);
  }

  protected abstract slotNames(): string[];

  /**
   * Updates `variable` in place from `grad` (plus `2 * l2 * variable`) and its slots; `step` is the 1-based iteration
   * (Keras' local_step). Returns sum variable² before the step where l2 is not 0, else 0.
   */
  protected abstract update(
    variable: tf.Variable,
    grad: tf.Tensor,
    slots: Slots,
    lr: number,
    step: number,
    l2: number,
  ): Squares;

  override applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    tf.dispose(this.applyGradientsWithL2(variableGradients, new Map()));
  }

  /**
   * One step from the gradients, with the L2 penalties of `coefficients` taken into it: each penalty's gradient
   * 2 * l2 * w is added to its variable's (a variable without a gradient is not updated). Returns the penalties' sum,
   * l2 * sum w² of every variable in `coefficients` at its value before the step, which the update reads in its own
   * pass where it runs natively (in float64 there, in float32 ops elsewhere: the reported loss may differ in its last
   * digits between the paths).
   */
  applyGradientsWithL2(
    variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[],
    coefficients: L2Coefficients,
  ): tf.Scalar {
    const pairs: [string, tf.Tensor][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const step = this.iterations + 1;
    let penalty = 0;
    const penalties: tf.Scalar[] = [];
    const add = (squares: Squares, c: number) => {
      if (typeof squares === 'number') {
        penalty += c * squares;
        return;
      }
      penalties.push(tf.tidy(() => tf.mul(squares, c)));
      squares.dispose();
    };
    const variable = (name: string) => {
      const v = tf.engine().registeredVariables[name];
      if (!v) throw new Error(`optimizer: no variable named "${name}"`);
      return v;
    };
    const updated = new Set<string>();
    try {
      for (const [name, grad] of pairs) {
        if (grad == null) continue;
        const w = variable(name);
        let slots = this.slots.get(name);
        if (!slots) {
          slots = {};
          for (const s of this.slotNames()) slots[s] = tf.tidy(() => tf.variable(tf.zerosLike(w), false));
          this.slots.set(name, slots);
        }
        const s = slots;
        const c = coefficients.get(name) ?? 0;
        const squares = tf.tidy(() => this.update(w, grad, s, this.lr, step, c));
        updated.add(name);
        // update returns 0 without a penalty.
        if (c !== 0) add(squares, c);
      }
      // Penalties of variables this step leaves alone (frozen) count at their values.
      for (const [name, c] of coefficients)
        if (!updated.has(name))
          add(
            tf.tidy(() => sumOfSquares(variable(name))),
            c,
          );
      this.incrementIterations();
      return tf.tidy(() => penalties.reduce((a: tf.Scalar, p) => tf.add(a, p), tf.scalar(penalty)));
    } finally {
      tf.dispose(penalties);
    }
  }

  /** Copies of the state, slots in the order of `variableNames` (e.g. the model's trainable weights). */
  getState(variableNames: string[]): OptimizerState {
    return {
      config: { ...this.config, lr: this.lr },
      iterations: this.iterations,
      learningRate: this.lr,
      slots: variableNames.map((n) => {
        const s = this.slots.get(n);
        return s ? Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.clone()])) : null;
      }),
    };
  }

  /** Restores a state saved by getState; `variableNames` name this process's variables in the saved order. */
  setState(state: Pick<OptimizerState, 'iterations' | 'learningRate' | 'slots'>, variableNames: string[]): void {
    if (state.slots.length !== variableNames.length) {
      throw new Error(
        `optimizer: saved state has slots for ${state.slots.length} variables, the model has ${variableNames.length}`,
      );
    }
    this.disposeSlots();
    this.iterations_ = state.iterations;
    this.learningRate = state.learningRate;
    state.slots.forEach((saved, i) => {
      if (!saved) return;
      const slots: Slots = {};
      for (const k of this.slotNames()) {
        if (!saved[k]) throw new Error(`optimizer: saved state lacks slot "${k}" of variable ${i}`);
        slots[k] = tf.variable(saved[k], false);
      }
      this.slots.set(variableNames[i], slots);
    });
  }

  private disposeSlots(): void {
    for (const s of this.slots.values()) for (const v of Object.values(s)) v.dispose();
    this.slots.clear();
  }

  override dispose(): void {
    this.disposeSlots();
    super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.config, lr: this.lr };
  }
}

/** `g` plus the gradient of the L2 penalty l2 * sum w², as the tape computes it (w times the float32 2 * l2). */
function withL2(g: tf.Tensor, w: tf.Tensor, l2: number): tf.Tensor {
  return l2 === 0 ? g : tf.add(g, tf.mul(w, 2 * l2));
}

/** Keras SGD: `v = m*v - lr*g; w += v`, Nesterov `w += m*v - lr*g`; without momentum `w -= lr*g`. */
export class SGD extends KerasOptimizer {
  static className = 'AffectSGD';
  protected slotNames(): string[] {
    return this.config.kind === 'sgd' && this.config.momentum > 0 ? ['momentum'] : [];
  }
  protected update(w: tf.Variable, grad: tf.Tensor, slots: Slots, lr: number, _step: number, l2: number): Squares {
    const { momentum, nesterov } = this.config as Required<Extract<OptimizerConfig, { kind: 'sgd' }>>;
    const fused = fusedSgdUpdate(w, grad, momentum === 0 ? undefined : slots.momentum, { lr, momentum, nesterov, l2 });
    if (fused !== undefined) return fused;
    const squares = l2 === 0 ? 0 : sumOfSquares(w);
    const g = withL2(grad, w, l2);
    if (momentum === 0) {
      w.assign(tf.sub(w, tf.mul(g, lr)));
      return squares;
    }
    const v = slots.momentum;
    const vNew = tf.sub(tf.mul(v, momentum), tf.mul(g, lr));
    v.assign(vNew);
    w.assign(nesterov ? tf.add(w, tf.sub(tf.mul(vNew, momentum), tf.mul(g, lr))) : tf.add(w, vNew));
    return squares;
  }
}

/**
 * Keras Adam: `m += (g-m)(1-b1); v += (g²-v)(1-b2); w -= α m/(√v + ε)`, `α = lr √(1-b2^t)/(1-b1^t)`.
 * AdamW (Keras' `AdamW`) first decays the weights, `w -= lr*wd*w`, then takes the Adam step.
 */
export class Adam extends KerasOptimizer {
  static className = 'AffectAdam';
  protected slotNames(): string[] {
    return ['m', 'v'];
  }
  protected update(w: tf.Variable, grad: tf.Tensor, slots: Slots, lr: number, step: number, l2: number): Squares {
    const c = this.config as Required<Extract<OptimizerConfig, { kind: 'adamw' }>>;
    const decay = c.kind === 'adamw' && c.weightDecay > 0 ? lr * c.weightDecay : 0;
    const alpha = (lr * Math.sqrt(1 - c.beta2 ** step)) / (1 - c.beta1 ** step);
    const settings = { decay, beta1: c.beta1, beta2: c.beta2, alpha, epsilon: c.epsilon, l2 };
    const fused = fusedAdamUpdate(w, grad, slots.m, slots.v, settings);
    if (fused !== undefined) return fused;
    const squares = l2 === 0 ? 0 : sumOfSquares(w);
    const g = withL2(grad, w, l2);
    let wt: tf.Tensor = w;
    if (c.kind === 'adamw' && c.weightDecay > 0) wt = tf.sub(w, tf.mul(w, lr * c.weightDecay));
    const m = tf.add(slots.m, tf.mul(tf.sub(g, slots.m), 1 - c.beta1));
    const v = tf.add(slots.v, tf.mul(tf.sub(tf.square(g), slots.v), 1 - c.beta2));
    slots.m.assign(m);
    slots.v.assign(v);
    w.assign(tf.sub(wt, tf.div(tf.mul(m, alpha), tf.add(tf.sqrt(v), c.epsilon))));
    return squares;
  }
}

/** Fills in Keras' defaults (SGD lr 0.01; Adam/AdamW lr 0.001, β 0.9/0.999, ε 1e-7; AdamW decay 0.004). */
export function resolveOptimizerConfig(cfg: OptimizerConfig): Required<OptimizerConfig> {
  const check = (name: string, v: number, ok: boolean) => {
    if (!Number.isFinite(v) || !ok) throw new Error(`optimizer ${cfg.kind}: invalid ${name} ${v}`);
  };
  let out: Required<OptimizerConfig>;
  switch (cfg.kind) {
    case 'sgd':
      out = { kind: 'sgd', lr: cfg.lr ?? 0.01, momentum: cfg.momentum ?? 0, nesterov: cfg.nesterov ?? false };
      check('momentum', out.momentum, out.momentum >= 0 && out.momentum <= 1);
      break;
    case 'adam':
    case 'adamw': {
      const base = {
        lr: cfg.lr ?? 0.001,
        beta1: cfg.beta1 ?? 0.9,
        beta2: cfg.beta2 ?? 0.999,
        epsilon: cfg.epsilon ?? 1e-7,
      };
      out =
        cfg.kind === 'adam'
          ? { kind: 'adam', ...base }
          : { kind: 'adamw', ...base, weightDecay: cfg.weightDecay ?? 0.004 };
      check('beta1', base.beta1, base.beta1 >= 0 && base.beta1 < 1);
      check('beta2', base.beta2, base.beta2 >= 0 && base.beta2 < 1);
      check('epsilon', base.epsilon, base.epsilon >= 0);
      if (out.kind === 'adamw') check('weightDecay', out.weightDecay, out.weightDecay >= 0);
      break;
    }
    default:
      throw new Error(
        `optimizer: unknown kind "${String((cfg as { kind: unknown }).kind)}"; accepted: sgd, adam, adamw`,
      );
  }
  check('lr', out.lr, out.lr >= 0);
  return out;
}

/** An optimizer from its config (Keras defaults for what is left out). */
export function makeOptimizer(cfg: OptimizerConfig): KerasOptimizer {
  const full = resolveOptimizerConfig(cfg);
  return full.kind === 'sgd' ? new SGD(full) : new Adam(full);
}
