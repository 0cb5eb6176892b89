/**
 * A custom RL algorithm in a few lines: a user-defined advantage estimator (group
 * median baseline) composed with the built-in PPO-clip loss, token-mean aggregation and
 * AEPO entropy control, trained on the arithmetic task with a tiny transformer.
 *
 *   npx tsx examples/custom-algorithm.ts
 */
import { pathToFileURL } from 'node:url';
import { type AdvantageEstimator, defineComponent } from '@rftkit/core';
import { type BackendName, selectBackend } from '@rftkit/tensor';
import { createAggregator, createPpoClipLoss } from '@rftkit/losses';
import { createCharTokenizer, createTransformerPolicy } from '@rftkit/policy';
import { createAepo } from '@rftkit/regularizers';
import { createArithmeticTask } from '@rftkit/tasks';
import { createTrainer, type RunSummary, type TrainerEvent } from '@rftkit/trainer';
import { z } from 'zod';

// 1. A custom advantage estimator: A_i = (r_i − median of its group) · scale, on every
//    response token. The median is robust to one lucky sample in a group.
export const medianAdvantage = defineComponent({
  id: 'median-baseline',
  family: 'advantage',
  description: 'r − median(group rewards), broadcast to response tokens',
  schema: z.object({ scale: z.number().positive().default(1).describe('Multiplies every advantage.') }),
  build: ({ scale }): AdvantageEstimator => ({
    id: 'median-baseline',
    compute({ rows, seqLen, scores, groupIds, responseMask }) {
      const groups = new Map<number, number[]>();
      for (let r = 0; r < rows; r++) groups.set(groupIds[r]!, [...(groups.get(groupIds[r]!) ?? []), scores[r]!]);
      const median = new Map<number, number>();
      for (const [g, xs] of groups) {
        const s = [...xs].sort((a, b) => a - b);
        const mid = s.length >> 1;
        median.set(g, s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2);
      }
      const sequenceAdvantages = Float32Array.from({ length: rows }, (_, r) => scale * (scores[r]! - median.get(groupIds[r]!)!));
      const advantages = new Float32Array(rows * seqLen);
      for (let i = 0; i < advantages.length; i++) {
        if (responseMask[i]! > 0) advantages[i] = sequenceAdvantages[Math.floor(i / seqLen)]! * responseMask[i]!;
      }
      const nonzero = sequenceAdvantages.filter((a) => a !== 0).length / Math.max(rows, 1);
      return { advantages, sequenceAdvantages, metrics: { 'median/nonzero_frac': nonzero } };
    },
  }),
});

export interface CustomAlgorithmOptions {
  steps?: number;
  backend?: BackendName;
  outDir?: string;
  onEvent?: (event: TrainerEvent) => void;
}

export async function runCustomAlgorithm(options: CustomAlgorithmOptions = {}): Promise<RunSummary> {
  await selectBackend(options.backend ?? 'auto');

  // 2. A task and a tiny policy whose vocabulary covers it.
  const task = createArithmeticTask({ operands: 2, maxOperand: 9, ops: '+' });
  const tokenizer = createCharTokenizer({ alphabet: task.alphabet?.() ?? '0123456789+=' });
  const policy = createTransformerPolicy({ tokenizer, dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 16, seed: 1 });

  // 3. The composition: every piece is a plain object implementing a core spec.
  const trainer = createTrainer({
    policy,
    trainPrompts: task.generate('train', 48, 1),
    testPrompts: task.generate('test', 8, 1),
    reward: task.reward(),
    advantage: medianAdvantage.create({ scale: 1 }),
    loss: createPpoClipLoss({ clipLow: 0.2, clipHigh: 0.28 }),
    aggregator: createAggregator({ mode: 'token-mean' }),
    regularizers: [createAepo({ targetEntropy: 1.0 })],
    config: {
      steps: options.steps ?? 2,
      seed: 42,
      promptsPerStep: 4,
      samplesPerPrompt: 4,
      miniBatchSamples: 16,
      microBatchSamples: 8,
      sampling: { maxNewTokens: 4 },
      optimizer: { lr: 3e-3 },
      eval: { every: 1, samplesPerPrompt: 4, k: [1, 4], sampling: { maxNewTokens: 4 } },
    },
    outDir: options.outDir,
    onEvent: options.onEvent,
  });

  try {
    return await trainer.run();
  } finally {
    trainer.dispose();
    policy.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const summary = await runCustomAlgorithm({
    onEvent: (e) => {
      if (e.type === 'step') console.log(`step ${e.step}: reward ${e.metrics['reward/mean']?.toFixed(3)}, entropy ${e.metrics['entropy/exact']?.toFixed(3)}`);
      if (e.type === 'eval') console.log(`eval @${e.step}: pass@1 ${e.metrics['eval/pass@1']?.toFixed(3)}`);
    },
  });
  console.log(`done: ${summary.steps} steps`);
}
