import * as tf from '@tensorflow/tfjs-core';
import { StateError } from '@rftkit/core';
import { adamStep, sumOfSquares } from '@rftkit/tensor';
import type { OptimizerConfig } from './config';

/**
 * Learning rate of 1-based trainer step `step` of `totalSteps`: linear warm-up
 * (lr·step/warmupSteps), then constant, linear or cosine decay. After warm-up, step
 * i = step − warmup − 1 of N = totalSteps − warmup gets factor 1 − i/N (linear) or
 * ½(1 + cos(π·i/N)) (cosine), so the first step trains at the peak and none at 0.
 */
export function learningRate(config: OptimizerConfig, step: number, totalSteps: number): number {
  const { lr, warmupSteps, schedule } = config;
  if (step <= warmupSteps) return (lr * step) / Math.max(1, warmupSteps);
  if (schedule === 'constant') return lr;
  const n = Math.max(1, totalSteps - warmupSteps);
  const i = Math.min(step - warmupSteps - 1, n - 1);
  if (schedule === 'linear') return lr * (1 - i / n);
  return lr * 0.5 * (1 + Math.cos((Math.PI * i) / n));
}

/**
 * Global-norm clipping as torch's `clip_grad_norm_`: scales every gradient by
 * min(1, maxNorm / (norm + 1e-6)). Returns new tensors (owned by the caller) and the
 * norm before clipping. `maxNorm` 0 disables clipping (the norm is still measured).
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  // One fused kernel on wasm/cpu (core's sumOfSquares) instead of 2 per gradient.
  const sq = sumOfSquares(grads);
  const norm = Math.fround(Math.sqrt(sq.dataSync()[0]!));
  sq.dispose();
  const scale = maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  return { grads: grads.map((g) => (scale === 1 ? tf.clone(g) : tf.tidy(() => tf.mul(g, scale)))), norm };
}

/** Host copy of the optimizer's state, for checkpoints. */
export interface OptimizerState {
  name: string;
  /** Optimizer steps taken (Adam's bias-correction counter). */
  t: number;
  /** Per variable, in `trainableVariables()` order. */
  slots: Array<{ name: string; shape: number[]; m: Float32Array; v: Float32Array }>;
}

/**
 * Adam / AdamW over a fixed list of variables, with torch's semantics:
 * adam adds `weightDecay·θ` to the gradient; adamw multiplies θ by (1 − lr·weightDecay)
 * before the Adam step. Moment buffers are allocated up front so the tensor count stays
 * constant across steps.
 */
export class AdamOptimizer {
  readonly config: OptimizerConfig;
  readonly variables: tf.Variable[];
  #t = 0;
  #m: tf.Variable[];
  #v: tf.Variable[];

  constructor(variables: tf.Variable[], config: OptimizerConfig) {
    this.config = config;
    this.variables = variables;
    // Variables survive tidy; the zero tensors they are built from do not.
    this.#m = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
    this.#v = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
  }

  get t(): number {
    return this.#t;
  }

  /** One update with `grads[i]` the gradient of `variables[i]` (borrowed; null = no gradient). */
  apply(grads: Array<tf.Tensor | null>, lr: number): void {
    const { beta1, beta2, eps, weightDecay, name } = this.config;
    this.#t += 1;
    const options = { lr, beta1, beta2, eps, t: this.#t, weightDecay, mode: name };
    this.variables.forEach((x, i) => {
      const raw = grads[i];
      if (!raw) return;
      // One fused kernel per variable on wasm/cpu (core's adamStep; ≈10 ops elsewhere).
      const [x1, m1, v1] = adamStep(x, raw, this.#m[i]!, this.#v[i]!, options);
      this.#m[i]!.assign(m1);
      this.#v[i]!.assign(v1);
      x.assign(x1);
      tf.dispose([x1, m1, v1]);
    });
  }

  state(): OptimizerState {
    return {
      name: this.config.name,
      t: this.#t,
      slots: this.variables.map((x, i) => ({
        name: x.name,
        shape: [...x.shape],
        m: Float32Array.from(this.#m[i]!.dataSync() as Float32Array),
        v: Float32Array.from(this.#v[i]!.dataSync() as Float32Array),
      })),
    };
  }

  loadState(state: OptimizerState): void {
    if (state.slots.length !== this.variables.length) {
      throw new StateError('optimizer', `it has ${state.slots.length} slots but the policy has ${this.variables.length} trainable variables`);
    }
    state.slots.forEach((slot, i) => {
      const x = this.variables[i]!;
      const size = x.shape.reduce((a, b) => a * b, 1);
      if (slot.m.length !== size || slot.v.length !== size) {
        throw new StateError('optimizer', `slot ${i} ('${slot.name}') has ${slot.m.length} values, variable '${x.name}' has ${size}`);
      }
      tf.tidy(() => {
        this.#m[i]!.assign(tf.tensor(slot.m, x.shape));
        this.#v[i]!.assign(tf.tensor(slot.v, x.shape));
      });
    });
    this.#t = state.t;
  }

  dispose(): void {
    for (const t of [...this.#m, ...this.#v]) t.dispose();
  }
}
