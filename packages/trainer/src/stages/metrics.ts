import { type Metrics, type Regularizer, responseLengths, type ScoredBatch, type StepInfo } from '@rftkit/core';
import { componentName, guard } from './component-checks';

/** Mean of the non-NaN values (0 when there is none). */
export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (Number.isNaN(x)) continue;
    s += x;
    n++;
  }
  return n ? s / n : 0;
}

/** Population standard deviation. */
export function std(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i]! - m) ** 2;
  return xs.length ? Math.sqrt(s / xs.length) : 0;
}

/** Rollout metrics of the main batch (before regularizers add rows). */
export function rolloutMetrics(batch: ScoredBatch, seconds: number): Metrics {
  const lens = responseLengths(batch);
  const groups = new Map<number, number[]>();
  for (let r = 0; r < batch.rows; r++) {
    const g = batch.groupIds[r]!;
    groups.set(g, [...(groups.get(g) ?? []), batch.scores[r]!]);
  }
  let zero = 0;
  for (const xs of groups.values()) if (std(xs) < 1e-6) zero++;
  const tokens = lens.reduce((a, b) => a + b, 0);
  const m: Metrics = {
    'reward/mean': mean(batch.scores),
    'reward/std': std(batch.scores),
  };
  for (const [name, values] of Object.entries(batch.rewardComponents)) m[`reward/${name}`] = mean(values);
  return {
    ...m,
    'response/len_mean': mean(lens),
    'response/len_max': lens.length ? Math.max(...lens) : 0,
    'response/truncated_frac': batch.finishReason.filter((f) => f === 'length').length / Math.max(batch.rows, 1),
    'groups/zero_std_frac': groups.size ? zero / groups.size : 0,
    'rollout/tokens_per_s': seconds > 0 ? tokens / seconds : 0,
  };
}

export interface StepMetricsInput {
  info: StepInfo;
  scored: ScoredBatch;
  rolloutSeconds: number;
  advantageMetrics: Metrics;
  updateMetrics: Metrics;
  updateSeconds: number;
  /** Rows trained on (after regularizers added theirs). */
  batchRows: number;
}

/**
 * Metrics stage: the step's row. Regularizers read it (`afterUpdate`, where AEPO reads the
 * entropy) before adding their own metrics, so a controller sees the same row whatever
 * regularizer order.
 */
export function stepMetrics(regularizers: readonly Regularizer[], input: StepMetricsInput): Metrics {
  const { info } = input;
  const metrics: Metrics = {
    step: info.step,
    ...rolloutMetrics(input.scored, input.rolloutSeconds),
    ...input.advantageMetrics,
    ...input.updateMetrics,
    'batch/rows': input.batchRows,
  };
  for (const reg of regularizers) {
    if (reg.afterUpdate) guard(componentName('regularizer', reg.id), info.step, () => reg.afterUpdate!(metrics, info));
  }
  for (const reg of regularizers) {
    if (reg.metrics) Object.assign(metrics, guard(componentName('regularizer', reg.id), info.step, () => reg.metrics!()));
  }
  metrics['time/rollout_s'] = input.rolloutSeconds;
  metrics['time/update_s'] = input.updateSeconds;
  return metrics;
}
