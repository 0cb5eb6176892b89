import type * as tf from '@tensorflow/tfjs-core';
import { ComponentError, RftError, ShapeError, type TrainBatch } from '@rftkit/core';

/**
 * Checks at the boundary between the trainer and the components it runs: a component's
 * exception names the component and the step, and its outputs are checked (lengths,
 * shapes, finite values) before they reach the update, where a wrong length would
 * otherwise train as a silent no-op and a NaN would spread into the weights.
 */

/** `advantage 'grpo'`, `regularizer 'aepo'`, ... */
export const componentName = (family: string, id: string): string => `${family} '${id}'`;

function rethrow(component: string, step: number, error: unknown): never {
  // Errors rftkit raises on purpose already say what is wrong and where.
  if (error instanceof RftError) throw error;
  const reason = error instanceof Error ? error.message : String(error);
  throw new ComponentError(component, step, `threw: ${reason}`, { cause: error });
}

/** Runs a component's synchronous hook, naming it and the step when it throws. */
export function guard<T>(component: string, step: number, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    rethrow(component, step, error);
  }
}

/** Runs a component's (possibly) asynchronous hook, naming it and the step when it throws. */
export async function guardAsync<T>(component: string, step: number, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    rethrow(component, step, error);
  }
}

/** Index of the first NaN/±Infinity, or -1. */
export function firstNonFinite(xs: ArrayLike<number>): number {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i]!)) return i;
  return -1;
}

/** Throws `ComponentError` when `values` holds a NaN/Infinity; `perRow` > 0 names the row and token. */
export function checkFinite(component: string, step: number, name: string, values: ArrayLike<number>, perRow = 0): void {
  const i = firstNonFinite(values);
  if (i < 0) return;
  const at = perRow > 0 ? ` (row ${Math.floor(i / perRow)}, token ${i % perRow})` : '';
  throw new ComponentError(component, step, `${name}[${i}]${at} is ${values[i]}; expected finite numbers`);
}

/** Throws `ShapeError` when an array's length is not what the batch needs. */
export function checkLength(component: string, step: number, name: string, actual: number, expected: number, how: string): void {
  if (actual !== expected) {
    throw new ShapeError(`${component} at step ${step}`, `${name} has length ${actual}, expected ${how} = ${expected}`);
  }
}

/** A batch a component returned: every array sized for `rows` × `seqLen`, finite scores and advantages. */
export function checkTrainBatch(component: string, step: number, batch: TrainBatch): void {
  const { rows, seqLen } = batch;
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(seqLen) || seqLen < 0) {
    throw new ShapeError(`${component} at step ${step}`, `rows (${rows}) and seqLen (${seqLen}) must be non-negative integers`);
  }
  const tokenWise = `rows × seqLen = ${rows} × ${seqLen}`;
  for (const name of ['tokens', 'attentionMask', 'responseMask', 'advantages'] as const) {
    checkLength(component, step, name, batch[name]?.length ?? 0, rows * seqLen, tokenWise);
  }
  for (const name of ['scores', 'groupIds', 'promptIndex', 'sampling', 'finishReason', 'source'] as const) {
    checkLength(component, step, name, batch[name]?.length ?? 0, rows, 'rows');
  }
  if (batch.rowWeights) {
    checkLength(component, step, 'rowWeights', batch.rowWeights.length, rows, 'rows');
    checkFinite(component, step, 'rowWeights', batch.rowWeights);
  }
  checkFinite(component, step, 'scores', batch.scores);
  checkFinite(component, step, 'advantages', batch.advantages, seqLen);
}

/** A tensor a component returned inside the update has the shape the next stage needs. */
export function checkShape(component: string, step: number, name: string, t: tf.Tensor, expected: readonly number[]): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${component} at step ${step}`, `${name} has shape [${t.shape}], expected [${expected}]`);
  }
}
