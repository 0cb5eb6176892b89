// HF policies through savePolicy/loadPolicy (the trainer's checkpoint and resume path):
// HF tensor names are kept and the restored policy computes the same logits.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends } from '@rftkit/tensor/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadPolicy, savePolicy } from '../checkpoint';
import { type HfPolicy, loadHfPolicy } from './index';

const FIXTURE = join(import.meta.dirname, '..', '__fixtures__', 'hf', 'qwen3');

describeBackends('HF policy checkpoints', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rft-hf-ckpt-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('save → load keeps HF names, config and identical logits after a weight change', async () => {
    const policy = await loadHfPolicy(FIXTURE, { headChunkTokens: 7 });
    // A trained state differs from the folder's weights: shift every parameter.
    const w = policy.getWeights();
    for (const [name, t] of Object.entries(w)) {
      const values = t.values.map((v, i) => v + 1e-3 * Math.sin(i + name.length));
      w[name] = { shape: t.shape, values };
    }
    policy.setWeights(w);
    await savePolicy(join(dir, 'ckpt'), policy);
    const before = tf.memory().numTensors;
    const restored = (await loadPolicy(join(dir, 'ckpt'))) as HfPolicy;
    expect(restored.config()).toEqual(policy.config());
    expect(restored.config().type).toBe('hf');
    expect(Object.keys(restored.getWeights()).sort()).toEqual(Object.keys(w).sort());
    expect(Object.keys(w)).toContain('model.embed_tokens.weight');
    const tokens = tf.tensor2d([[1, 5, 9, 3, 2]], undefined, 'int32');
    const attentionMask = tf.ones([1, 5]) as tf.Tensor2D;
    const a = policy.forward({ tokens, attentionMask });
    const b = restored.forward({ tokens, attentionMask });
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([tokens, attentionMask, a, b]);
    restored.dispose();
    // The restored policy's variables are all released by dispose.
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });

  it('a corrupt HF config in the checkpoint is a CheckpointError naming it', async () => {
    const policy = await loadHfPolicy(FIXTURE);
    const cfg = policy.config();
    const bad = {
      getWeights: () => policy.getWeights(),
      tokenizer: policy.tokenizer,
      config: () => ({ ...cfg, hf: { ...cfg.hf, hidden_size: 'wide' } }),
    } as unknown as HfPolicy;
    await savePolicy(join(dir, 'bad'), bad);
    await expect(loadPolicy(join(dir, 'bad'))).rejects.toThrow(/^Checkpoint [\s\S]*hidden_size/);
    policy.dispose();
  });
});
