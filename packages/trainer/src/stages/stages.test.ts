import * as tf from '@tensorflow/tfjs-core';
import { concatBatches, type Metrics, type Regularizer, type StepInfo, selectRows } from '@rftkit/core';
import { describeBackends, expectAllClose } from '@rftkit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { passAtK } from '../pass-at-k';
import { testParts, testPrompts } from '../testing/parts';
import { advantageStage } from './advantages';
import { evaluateStage } from './evaluate';
import { rolloutMetrics, stepMetrics } from './metrics';
import { augmentContext, regularizeStage } from './regularize';
import { drawPrompts, rolloutStage } from './rollout';
import { runStepStages } from './step';
import { updateStage } from './update';

describe('drawPrompts', () => {
  it('draws a permutation per step, cycling when more are needed than exist', () => {
    const once = drawPrompts(testPrompts, 6, 1, 2);
    expect(new Set(once.map((p) => p.id)).size).toBe(6);
    const twice = drawPrompts(testPrompts, 12, 1, 2);
    for (const p of testPrompts) expect(twice.filter((q) => q.id === p.id)).toHaveLength(2);
    expect(drawPrompts(testPrompts, 6, 1, 2)).toEqual(once);
    expect(drawPrompts(testPrompts, 6, 1, 3).map((p) => p.id)).not.toEqual(once.map((p) => p.id));
  });
});

describeBackends('stages', () => {
  it('rollout: beforeRollout hooks run first, then promptsPerStep × samplesPerPrompt rows of the drawn prompts', async () => {
    const calls: string[] = [];
    const hook: Regularizer = { id: 'hook', beforeRollout: (info) => void calls.push(`before ${info.step}`) };
    const parts = testParts({}, { regularizers: [hook] });
    const generate = parts.engine.generate.bind(parts.engine);
    parts.engine.generate = (req) => {
      calls.push(`generate ${req.step}`);
      return generate(req);
    };
    const out = await rolloutStage(parts, 5);
    expect(calls).toEqual(['before 5', 'generate 5']);
    expect(out.info).toEqual({ step: 5, seed: 3 });
    expect(out.prompts).toEqual(drawPrompts(testPrompts, 3, 3, 5));
    expect(out.batch.rows).toBe(12);
    expect(out.batch.source.every((s) => s === 'main')).toBe(true);
  });

  it('advantages: group-normalized rewards, zero outside the response, summing to zero per group', async () => {
    const parts = testParts();
    const scored = await parts.scorer.score((await rolloutStage(parts, 1)).batch);
    const { batch } = advantageStage(parts.advantage, scored, 1);
    const { rows, seqLen } = batch;
    const perGroup = new Map<number, number>();
    for (let r = 0; r < rows; r++) {
      const first = Array.from({ length: seqLen }, (_, t) => r * seqLen + t).find((i) => batch.responseMask[i] === 1)!;
      perGroup.set(batch.groupIds[r]!, (perGroup.get(batch.groupIds[r]!) ?? 0) + batch.advantages[first]!);
    }
    for (const s of perGroup.values()) expect(Math.abs(s)).toBeLessThan(1e-4);
    for (let i = 0; i < rows * seqLen; i++) if (batch.responseMask[i] === 0) expect(Math.abs(batch.advantages[i]!)).toBe(0);
  });

  it('regularize: every augmentBatch hook before any shapeAdvantages hook, each seeing the previous output', async () => {
    const calls: string[] = [];
    const reg = (id: string): Regularizer => ({
      id,
      augmentBatch: async (b) => {
        calls.push(`augment ${id} ${b.rows}`);
        return concatBatches([b, selectRows(b, [0])]);
      },
      shapeAdvantages: (b) => {
        calls.push(`shape ${id} ${b.rows}`);
        return b;
      },
    });
    const parts = testParts();
    const rollout = await rolloutStage(parts, 1);
    const { batch } = advantageStage(parts.advantage, await parts.scorer.score(rollout.batch), 1);
    const out = await regularizeStage([reg('a'), reg('b')], batch, augmentContext(parts, rollout));
    expect(calls).toEqual(['augment a 12', 'augment b 13', 'shape a 14', 'shape b 14']);
    expect(out.rows).toBe(14);
  });

  it('update: applies the scheduled learning rate and moves the weights, leaking no tensors', async () => {
    const parts = testParts({ steps: 10, optimizer: { lr: 0.1, schedule: 'linear', warmupSteps: 4 } });
    const rollout = await rolloutStage(parts, 2);
    const { batch } = advantageStage(parts.advantage, await parts.scorer.score(rollout.batch), 1);
    const before = parts.policy.getWeights().w!.values;
    const tensors = tf.memory().numTensors;
    const { metrics } = updateStage(parts, batch, rollout.info);
    expect(tf.memory().numTensors).toBe(tensors);
    expectAllClose([metrics.lr!], [0.1 * (2 / 4)]);
    expect(Array.from(parts.policy.getWeights().w!.values)).not.toEqual(Array.from(before));
  });

  it('metrics: reward and group statistics of the main batch; afterUpdate sees the row before regularizer metrics', async () => {
    const parts = testParts();
    const scored = await parts.scorer.score((await rolloutStage(parts, 1)).batch);
    const scores = Array.from(scored.scores);
    const m = rolloutMetrics(scored, 1);
    const meanScore = scores.reduce((a, b) => a + b, 0) / scores.length;
    expectAllClose([m['reward/mean']!], [meanScore]);
    expectAllClose([m['reward/std']!], [Math.sqrt(scores.reduce((a, b) => a + (b - meanScore) ** 2, 0) / scores.length)]);
    let seen: Metrics | undefined;
    const reg: Regularizer = { id: 'r', afterUpdate: (row) => void (seen = { ...row }), metrics: () => ({ 'r/x': 1 }) };
    const info: StepInfo = { step: 1, seed: 3 };
    const row = stepMetrics([reg], {
      info,
      scored,
      rolloutSeconds: 1,
      advantageMetrics: { 'adv/a': 2 },
      updateMetrics: { loss: 3 },
      updateSeconds: 1,
      batchRows: 20,
    });
    expect(row).toMatchObject({ step: 1, 'adv/a': 2, loss: 3, 'batch/rows': 20, 'r/x': 1 });
    expect(seen).toBeDefined();
    expect(seen!['r/x']).toBeUndefined();
    expect(seen!.loss).toBe(3);
  });

  it('evaluate: avg@n and pass@k from per-prompt correct counts', async () => {
    const parts = testParts();
    // Score 1 when the response starts with 'a': a per-prompt count c of 4 samples.
    const reward = {
      id: 'starts-a',
      score: (inputs: Array<{ completion: string }>) => inputs.map((i) => (i.completion.startsWith('a') ? 1 : 0)),
    };
    const counts: number[] = [0, 0];
    const scorer = testParts({}, { reward }).evalScorer;
    parts.evalScorer = {
      ...scorer,
      score: async (b) => {
        const s = await scorer.score(b);
        for (let r = 0; r < s.rows; r++) counts[s.promptIndex[r]!] = (counts[s.promptIndex[r]!] ?? 0) + s.scores[r]!;
        return s;
      },
    };
    const m = await evaluateStage(parts, 0);
    expectAllClose([m['eval/avg@4']!], [(counts[0]! + counts[1]!) / 8]);
    for (const k of [1, 2, 4]) expectAllClose([m[`eval/pass@${k}`]!], [(passAtK(4, counts[0]!, k) + passAtK(4, counts[1]!, k)) / 2]);
  });

  it('step: the stages in order give one row whose batch/rows counts the trained rows', async () => {
    const parts = testParts();
    const row = await runStepStages(parts, 1);
    expect(row.step).toBe(1);
    expect(row['batch/rows']).toBe(12);
    for (const k of ['reward/mean', 'loss', 'grad_norm', 'entropy/exact', 'time/step_s']) expect(Number.isFinite(row[k])).toBe(true);
  });
});
