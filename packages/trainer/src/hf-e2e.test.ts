// GRPO end to end on a Hugging Face model folder: a tiny Qwen3-shaped decoder with random
// weights, built at test time around the real Qwen3 tokenizer (no bos, several stop ids).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createGrpoAdvantage } from '@rftkit/advantages';
import type { Metrics, PromptRecord, RewardFunction, } from '@rftkit/core';
import { createAggregator, createPpoClipLoss } from '@rftkit/losses';
import { type HfPolicy, isHfLoraPolicy, loadHfPolicy } from '@rftkit/policy';
import { createKlPenalty } from '@rftkit/regularizers';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends } from '@rftkit/tensor/testing';
import { writeTinyQwen3 } from './testing/tiny-qwen3';
import { createTrainer } from './trainer';

// Digits score 1; otherwise a little per character, so GRPO groups have spread (random
// weights over a 150k vocabulary seldom sample a digit).
const digitReward: RewardFunction = {
  id: 'digit',
  score: (inputs) => inputs.map(({ completion }) => ({ score: /\d/.test(completion) ? 1 : Math.min(completion.length, 40) / 40 })),
};

const prompts: PromptRecord[] = ['1+1=', 'Two plus three is', 'Count: 1, 2,', 'The answer is'].map((prompt, i) => ({ id: `p${i}`, prompt }));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rftkit-hf-e2e-'));
  await writeTinyQwen3(join(dir, 'model'), { seed: 7, weightScale: 0.2, normJitter: 0.1, generationConfig: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeBackends('GRPO on a tiny Qwen3 folder with the real tokenizer', () => {
  it('trains every parameter; ratio 1, KL 0 and rollout log-probs equal to the trainer’s on step 1', async () => {
    const policy = (await loadHfPolicy(join(dir, 'model'))) as HfPolicy;
    expect(policy.tokenizer.bosTokenId).toBeNull();
    expect(policy.tokenizer.stopTokenIds).toHaveLength(2);
    const before = policy.getWeights();
    const trainer = createTrainer({
      policy,
      trainPrompts: prompts,
      testPrompts: prompts.slice(0, 1),
      reward: digitReward,
      advantage: createGrpoAdvantage(),
      loss: createPpoClipLoss(),
      aggregator: createAggregator({ mode: 'token-mean' }),
      regularizers: [createKlPenalty({ coef: 0.01 })],
      config: {
        steps: 2,
        seed: 3,
        promptsPerStep: 2,
        samplesPerPrompt: 3,
        // One mini-batch per step: on step 1 the policy is still the rollout's.
        miniBatchSamples: 6,
        microBatchSamples: 6,
        sampling: { maxNewTokens: 4 },
        optimizer: { lr: 0.01 },
      },
    });
    const history: Metrics[] = [];
    const tensorsBefore = tf.memory().numTensors;
    for (let s = 0; s < 2; s++) history.push(await trainer.step());
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const first = history[0]!;
    const metric = (m: Metrics, suffix: string) => {
      const key = Object.keys(m).find((k) => k === suffix || k.endsWith(`/${suffix}`));
      expect(key, `${suffix} in ${Object.keys(m).join(', ')}`).toBeDefined();
      return m[key!]!;
    };
    expect(metric(first, 'ratio/mean')).toBeCloseTo(1, 6);
    expect(metric(first, 'ratio/max')).toBeCloseTo(1, 6);
    expect(first['kl/ref']).toBeCloseTo(0, 6);
    expect(first['rollout/logp_abs_diff']).toBeLessThan(1e-5);
    for (const m of history) for (const [k, v] of Object.entries(m)) expect(Number.isFinite(v), k).toBe(true);

    const after = policy.getWeights();
    for (const [name, w] of Object.entries(before)) {
      const changed = after[name]!.values.some((v, i) => v !== w.values[i]);
      expect(changed, `${name} changed`).toBe(true);
    }
    trainer.dispose();
    policy.dispose();
  }, 120_000);
});

describeBackends('GRPO with LoRA adapters on the tiny Qwen3 folder', () => {
  it('trains the adapters only, the KL reference is the base (adapters off) with no weight copy', async () => {
    const policy = await loadHfPolicy(join(dir, 'model'), { lora: { rank: 4, alpha: 8, targetModules: 'all-linear' } });
    if (!isHfLoraPolicy(policy)) throw new Error('expected a LoRA policy');
    const base = policy.baseWeights();
    const adapters = policy.getWeights();
    const loaded = tf.memory().numTensors;
    const trainer = createTrainer({
      policy,
      trainPrompts: prompts,
      testPrompts: prompts.slice(0, 1),
      reward: digitReward,
      advantage: createGrpoAdvantage(),
      loss: createPpoClipLoss(),
      aggregator: createAggregator({ mode: 'token-mean' }),
      regularizers: [createKlPenalty({ coef: 0.01 })],
      config: {
        steps: 3,
        seed: 3,
        promptsPerStep: 2,
        samplesPerPrompt: 3,
        miniBatchSamples: 6,
        microBatchSamples: 6,
        sampling: { maxNewTokens: 4 },
        optimizer: { lr: 0.05 },
      },
    });
    // The reference shares the base's variables (no copy of the model); Adam's two moments
    // exist for the adapters alone.
    expect(policy.trainableVariables()).toHaveLength(7 * 2);
    expect(tf.memory().numTensors).toBe(loaded + 2 * 7 * 2);
    const history: Metrics[] = [];
    for (let s = 0; s < 3; s++) history.push(await trainer.step());
    // Step 1: lora_B = 0, so the policy is the base and KL to the reference is 0; then it grows.
    expect(history[0]!['kl/ref']).toBeCloseTo(0, 6);
    expect(history[2]!['kl/ref']).toBeGreaterThan(0);
    const baseAfter = policy.baseWeights();
    for (const [name, w] of Object.entries(base)) {
      expect(baseAfter[name]!.values.every((v, i) => v === w.values[i]), `${name} unchanged`).toBe(true);
    }
    const adaptersAfter = policy.getWeights();
    for (const [name, w] of Object.entries(adapters)) {
      expect(adaptersAfter[name]!.values.some((v, i) => v !== w.values[i]), `${name} changed`).toBe(true);
    }
    // The trainer frees its optimizer state and reference view; the policy's base stays alive.
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(loaded);
    expect(policy.baseWeights()['model.norm.weight']!.values).toEqual(base['model.norm.weight']!.values);
    policy.dispose();
  }, 120_000);
});
