import type { Metrics } from '@rftkit/core';
import { RftError, StateError } from '@rftkit/core';
import { z } from 'zod';

/**
 * The temperature controller shared by AEPO and DCPO: it reads the policy's entropy after
 * each update and picks the next step's temperature from that reading and a target.
 */

export type TemperatureRule = 'binary' | 'continuous';
export type EntropyEstimator = 'nll' | 'exact';
/** Which rows the reading averages over: the whole training batch, or the main rollout only. */
export type ReadingRows = 'all' | 'main';

export interface TemperatureRuleOptions {
  rule: TemperatureRule;
  targetEntropy: number;
  temperatureLow: number;
  temperatureHigh: number;
}

/**
 * binary (AEPO v1–v6 and the reference code): T_high if reading ≤ target, else T_low.
 * continuous (AEPO v7): clip(1 + target − reading, T_low, T_high).
 */
export function chooseTemperature(reading: number, options: TemperatureRuleOptions): number {
  const { rule, targetEntropy, temperatureLow, temperatureHigh } = options;
  if (rule === 'binary') return reading <= targetEntropy ? temperatureHigh : temperatureLow;
  return Math.min(temperatureHigh, Math.max(temperatureLow, 1 + targetEntropy - reading));
}

/**
 * The metric an estimator reads; the trainer logs all four every step (the `_main` ones
 * average over rows whose `source` is 'main', i.e. without rows added by regularizers).
 */
export function entropyMetricKey(estimator: EntropyEstimator, rows: ReadingRows = 'all'): string {
  const base = estimator === 'nll' ? 'entropy/nll' : 'entropy/exact';
  return rows === 'main' ? `${base}_main` : base;
}

/** Reads the entropy the controller follows from the step's metrics. */
export function readEntropy(component: string, metrics: Metrics, estimator: EntropyEstimator, rows: ReadingRows = 'all'): number {
  const key = entropyMetricKey(estimator, rows);
  const value = metrics[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    const found = Object.keys(metrics).filter((k) => k.startsWith('entropy/'));
    const hint =
      rows === 'main'
        ? `The trainer logs '${key}' only when the batch has main-rollout response tokens; ` +
          `set readingRows to 'all' to read the whole batch.`
        : `Set estimator to 'nll' or 'exact' to match what the trainer logs.`;
    throw new RftError(
      'E_CONFIG',
      `${component}: the step's metrics have no finite '${key}' (estimator '${estimator}', readingRows '${rows}'); ` +
        `entropy metrics present: ${found.length ? found.join(', ') : '(none)'}. ${hint}`,
    );
  }
  return value;
}

export const temperatureRuleShape = {
  rule: z
    .enum(['binary', 'continuous'])
    .default('binary')
    .describe("'binary': T_high if reading ≤ target else T_low (reference code); 'continuous': clip(1 + target − reading, T_low, T_high) (paper v7)"),
  targetEntropy: z.number().min(0).default(0.75).describe('Target entropy H, in the units of `estimator` (nats per response token)'),
  temperatureLow: z.number().gt(0).default(0.8).describe('T_low: temperature used when the entropy is above target'),
  temperatureHigh: z.number().gt(0).default(1.2).describe('T_high: temperature used when the entropy is at or below target'),
  estimator: z
    .enum(['nll', 'exact'])
    .default('nll')
    .describe("Which logged entropy the controller follows: 'nll' (mean −log π of sampled tokens, as the reference code) or 'exact' (softmax entropy, recommended)"),
  readingRows: z
    .enum(['all', 'main'])
    .default('all')
    .describe(
      "Rows the reading averages over: 'all' (the whole training batch, regularizers' added rows included, as the reference code) or 'main' (the main rollout only: `entropy/<estimator>_main`)",
    ),
  initialReading: z.number().min(0).default(0).describe('Entropy reading before the first update (the reference code starts at 0, so step 1 uses T_high)'),
};

/** Controller state as saved in checkpoints. */
export interface ControllerState {
  version: 1;
  /** The last entropy reading (what the next step's temperature is chosen from). */
  reading: number;
  /** The last step whose update was read (0 before any). */
  step: number;
}

export function controllerState(reading: number, step: number): ControllerState {
  return { version: 1, reading, step };
}

/** Validates a saved controller state; throws `StateError` naming the bad field. */
export function parseControllerState(component: string, state: unknown): ControllerState {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new StateError(component, `expected an object {version: 1, reading, step}, got ${JSON.stringify(state)}`);
  }
  const s = state as Record<string, unknown>;
  if (s.version !== 1) throw new StateError(component, `version: expected 1, got ${JSON.stringify(s.version)}`);
  if (typeof s.reading !== 'number' || !Number.isFinite(s.reading) || s.reading < 0) {
    throw new StateError(component, `reading: expected a finite number ≥ 0, got ${JSON.stringify(s.reading)}`);
  }
  if (typeof s.step !== 'number' || !Number.isInteger(s.step) || s.step < 0) {
    throw new StateError(component, `step: expected an integer ≥ 0, got ${JSON.stringify(s.step)}`);
  }
  return { version: 1, reading: s.reading, step: s.step };
}
