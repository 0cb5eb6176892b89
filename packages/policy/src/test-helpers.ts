import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@rftkit/core';
import type { Policy } from '@rftkit/core';

/**
 * Replaces every weight with N(0, scale²) draws, so logits vary strongly with the input
 * (the default init's small weights would make almost any two logit sets agree).
 */
export function randomizeWeights(policy: Policy, seed: number, scale = 0.5): void {
  const rng = new Rng(seed);
  const weights = policy.getWeights();
  for (const w of Object.values(weights)) {
    const values = new Float32Array(w.values.length);
    for (let i = 0; i < values.length; i++) values[i] = rng.normal() * scale;
    w.values = values;
  }
  policy.setWeights(weights);
}

/** Left-pads id rows to one length: tokens (pad 0) and attention mask tensors. */
export function leftPad(rows: number[][], length = Math.max(...rows.map((r) => r.length))) {
  const B = rows.length;
  const tokens = new Int32Array(B * length);
  const mask = new Float32Array(B * length);
  rows.forEach((r, i) => {
    tokens.set(r, i * length + length - r.length);
    mask.fill(1, i * length + length - r.length, (i + 1) * length);
  });
  return {
    tokens: tf.tensor2d(tokens, [B, length], 'int32'),
    attentionMask: tf.tensor2d(mask, [B, length], 'float32'),
  };
}
