// `rft export`: a saved HF checkpoint written back as a Hugging Face folder reloads with the
// same logits; non-HF policies and occupied destinations are refused.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createCharTokenizer, createTransformerPolicy, loadHfPolicy, savePolicy } from '@rftkit/policy';
import { selectBackend } from '@rftkit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExport } from './commands/export';
import type { CliIO } from './io';

const FIXTURE = resolve(import.meta.dirname, '../../../packages/policy/src/__fixtures__/hf/qwen3');
const backend = process.env.RFTKIT_RUNNER_TEST_BACKEND ?? 'wasm';
const io: CliIO = { out: () => {}, err: () => {} };

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rft-export-'));
  await selectBackend(backend as 'wasm');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const logitsOf = (policy: { forward: (i: { tokens: tf.Tensor2D; attentionMask: tf.Tensor2D }) => tf.Tensor }) => {
  const tokens = tf.tensor2d([[1, 5, 9, 3, 2, 40]], undefined, 'int32');
  const attentionMask = tf.ones([1, 6]) as tf.Tensor2D;
  const out = policy.forward({ tokens, attentionMask });
  const values = Array.from(out.dataSync());
  tf.dispose([tokens, attentionMask, out]);
  return values;
};

describe('rft export', () => {
  it('writes a trained HF checkpoint as a folder that reloads with identical logits', async () => {
    const policy = await loadHfPolicy(FIXTURE);
    // A trained state: every parameter moved off the fixture's values.
    const w = policy.getWeights();
    for (const [name, t] of Object.entries(w)) w[name] = { shape: t.shape, values: t.values.map((v, i) => v + 1e-2 * Math.cos(i + name.length)) };
    policy.setWeights(w);
    // A run folder as the trainer leaves it: checkpoints/latest → step-N/policy.
    const run = join(root, 'run');
    await savePolicy(join(run, 'checkpoints', 'step-000002', 'policy'), policy);
    await writeFile(join(run, 'checkpoints', 'latest'), 'step-000002\n');

    const to = join(root, 'hf-out');
    await runExport(run, { to, backend }, io);
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) expect(existsSync(join(to, f)), f).toBe(true);
    const reloaded = await loadHfPolicy(to);
    expect(logitsOf(reloaded)).toEqual(logitsOf(policy));
    reloaded.dispose();

    // An occupied destination needs --force; bfloat16 export stays close (8-bit mantissa).
    await expect(runExport(run, { to, dtype: 'bfloat16', backend }, io)).rejects.toThrow(/--to[\s\S]*not empty; pass --force/);
    await runExport(join(run, 'checkpoints', 'step-000002'), { to, dtype: 'bfloat16', force: true, backend }, io);
    const bf16 = await loadHfPolicy(to);
    const a = logitsOf(policy);
    const b = logitsOf(bf16);
    const maxDiff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    expect(maxDiff).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThan(0.05);
    bf16.dispose();
    policy.dispose();
  });

  it('writes a LoRA run merged (W + scaling·B·A) and, with --adapter, its PEFT adapter folder', async () => {
    const policy = await loadHfPolicy(FIXTURE, { lora: { rank: 2, alpha: 4, targetModules: ['q_proj', 'up_proj'] } });
    // A trained adapter: B off zero, so merging changes the weights.
    const w = policy.getWeights();
    for (const [name, t] of Object.entries(w)) w[name] = { shape: t.shape, values: t.values.map((v, i) => v + 0.05 * Math.sin(i + name.length)) };
    policy.setWeights(w);
    const ckpt = join(root, 'lora-run', 'checkpoints', 'step-000001', 'policy');
    await savePolicy(ckpt, policy);
    const to = join(root, 'lora-merged');
    const adapter = join(root, 'lora-adapter');
    await runExport(ckpt, { to, backend, adapter }, io);
    const merged = await loadHfPolicy(to);
    const want = logitsOf(policy);
    const got = logitsOf(merged);
    expect(got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0)).toBeLessThan(1e-4);
    const base = await loadHfPolicy(FIXTURE);
    expect(logitsOf(base)).not.toEqual(got);
    const again = await loadHfPolicy(FIXTURE, { lora: { adapter } });
    expect(logitsOf(again)).toEqual(want);
    for (const p of [merged, base, again, policy]) p.dispose();
    // --adapter on a full fine-tune has nothing to write.
    await expect(runExport(join(root, 'run'), { to: join(root, 'never-lora'), backend, adapter }, io)).rejects.toThrow(/--adapter[\s\S]*not a LoRA run/);
  });

  it('refuses a non-HF policy, a bad dtype and a folder that is not a checkpoint', async () => {
    const tokenizer = createCharTokenizer({ alphabet: 'ab' });
    const policy = createTransformerPolicy({ tokenizer, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8, seed: 1 });
    const dir = join(root, 'char-policy');
    await savePolicy(dir, policy);
    policy.dispose();
    const to = join(root, 'never');
    await expect(runExport(dir, { to, backend }, io)).rejects.toThrow(/'transformer' policy; only Hugging Face policies/);
    await expect(runExport(dir, { to, dtype: 'float16' as 'float32', backend }, io)).rejects.toThrow(/--dtype[\s\S]*float32, bfloat16/);
    const empty = join(root, 'empty');
    await mkdir(empty);
    await expect(runExport(empty, { to, backend }, io)).rejects.toThrow(/not a run folder/);
    expect(existsSync(join(to, 'model.safetensors'))).toBe(false);
  });
});
