import {
  type AggregationContext,
  type ComponentDefinition,
  defineComponent,
  type LossAggregator,
  ShapeError,
} from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { checkSameShape } from './tensor-utils';

export const aggregationModes = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'] as const;
export type AggregationMode = (typeof aggregationModes)[number];

function checkContext(where: string, ctx: AggregationContext, mode: AggregationMode): void {
  const fields: Array<keyof AggregationContext> = ['totalTokens', 'totalSequences', 'maxResponseLength'];
  for (const f of fields) {
    const v = ctx[f];
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      throw new ShapeError(where, `context.${f} must be a finite number ≥ 0, got ${String(v)}`);
    }
  }
  if (mode === 'seq-mean-token-sum-norm' && !(ctx.maxResponseLength > 0)) {
    throw new ShapeError(where, 'context.maxResponseLength must be > 0 for seq-mean-token-sum-norm');
  }
}

/**
 * Reduces per-token losses to a scalar, dividing by the GLOBAL batch sizes in the context
 * (never the micro-batch's own), so summing the aggregates of micro-batches equals the
 * aggregate of the whole batch. Empty denominators count as 1 (their numerators are 0).
 */
export function aggregate(mode: AggregationMode, tokenLoss: tf.Tensor2D, mask: tf.Tensor2D, ctx: AggregationContext): tf.Scalar {
  const where = `aggregation:${mode}`;
  checkSameShape(where, { tokenLoss, mask });
  checkContext(where, ctx, mode);
  return tf.tidy(() => {
    const masked = tf.mul(tokenLoss, mask);
    const sequences = Math.max(ctx.totalSequences, 1);
    switch (mode) {
      case 'token-mean':
        return tf.div(tf.sum(masked), Math.max(ctx.totalTokens, 1)) as tf.Scalar;
      case 'seq-mean-token-mean': {
        // A row with no response tokens contributes 0 (its sum is 0).
        const perSeq = tf.div(tf.sum(masked, -1), tf.add(tf.sum(mask, -1), 1e-8));
        return tf.div(tf.sum(perSeq), sequences) as tf.Scalar;
      }
      case 'seq-mean-token-sum':
        return tf.div(tf.sum(masked), sequences) as tf.Scalar;
      case 'seq-mean-token-sum-norm':
        return tf.div(tf.sum(masked), sequences * ctx.maxResponseLength) as tf.Scalar;
    }
  });
}

const DESCRIPTIONS: Record<AggregationMode, string> = {
  'token-mean': 'Σ L·m / response tokens of the global batch (every token weighs the same).',
  'seq-mean-token-mean': 'Mean over sequences of each sequence’s token mean (every sequence weighs the same).',
  'seq-mean-token-sum': 'Σ L·m / sequences of the global batch (longer sequences weigh more).',
  'seq-mean-token-sum-norm': 'Σ L·m / (sequences × constant max response length) (Dr.GRPO, no length bias).',
};

function aggregatorDefinition(mode: AggregationMode) {
  return defineComponent({
    id: mode,
    family: 'aggregation',
    description: DESCRIPTIONS[mode],
    schema: z.strictObject({}),
    build: (): LossAggregator => ({
      id: mode,
      aggregate: (tokenLoss, mask, context) => aggregate(mode, tokenLoss, mask, context),
    }),
  });
}

export const aggregationDefinitions: ComponentDefinition[] = aggregationModes.map(aggregatorDefinition) as ComponentDefinition[];

const createAggregatorSchema = z
  .strictObject({ mode: z.enum(aggregationModes).default('token-mean').describe('How per-token losses are reduced.') });

/** `createAggregator({ mode })`: the aggregator of one mode (default `token-mean`). */
export const aggregatorFactory = defineComponent({
  id: 'aggregator',
  family: 'aggregation',
  description: 'Any aggregation mode by option.',
  schema: createAggregatorSchema,
  build: ({ mode }): LossAggregator => ({
    id: mode,
    aggregate: (tokenLoss, mask, context) => aggregate(mode, tokenLoss, mask, context),
  }),
});

export const createAggregator = aggregatorFactory.create;
