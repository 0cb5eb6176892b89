import * as tf from '@tensorflow/tfjs-core';
import { type FieldIssue, gatherLogProbs, OptionsError, type Policy, Rng, ShapeError } from '@rftkit/core';
import { adamStep } from '@rftkit/tensor';
import { encodePrompt } from './tokenizer';

export interface SftExample {
  prompt: string;
  completion: string;
}

export interface SftOptions {
  policy: Policy;
  examples: SftExample[];
  steps: number;
  examplesPerStep: number;
  learningRate: number;
  seed: number;
  onStep?: (info: { step: number; loss: number }) => void;
}

/** Global gradient-norm clip threshold. */
export const SFT_MAX_GRAD_NORM = 1;

function validate(o: SftOptions): void {
  const issues: FieldIssue[] = [];
  const posInt = (k: 'steps' | 'examplesPerStep', min: number) => {
    if (!Number.isInteger(o[k]) || o[k] < min) issues.push({ path: k, message: `must be an integer ≥ ${min}` });
  };
  if (!o.policy || typeof o.policy.forward !== 'function') issues.push({ path: 'policy', message: 'must be a Policy' });
  if (!Array.isArray(o.examples) || o.examples.length === 0) {
    issues.push({ path: 'examples', message: 'must be a non-empty array of { prompt, completion }' });
  }
  posInt('steps', 0);
  posInt('examplesPerStep', 1);
  if (!(o.learningRate > 0) || !Number.isFinite(o.learningRate)) issues.push({ path: 'learningRate', message: 'must be > 0' });
  if (!Number.isInteger(o.seed)) issues.push({ path: 'seed', message: 'must be an integer' });
  if (issues.length) throw new OptionsError('trainSft', issues);
}

/**
 * Supervised fine-tuning with teacher forcing: each sequence is `[bos, prompt…,
 * completion…, eos]`, left-padded; the loss is the token-mean negative log-likelihood of
 * the completion tokens and eos. Adam, global gradient-norm clipping at 1, minibatches
 * drawn from seeded shuffles of the examples (every example once per pass).
 */
export async function trainSft(options: SftOptions): Promise<{ losses: number[] }> {
  validate(options);
  const { policy, examples, steps, examplesPerStep, learningRate, seed, onStep } = options;
  const vars = policy.trainableVariables();
  if (vars.length === 0) throw new ShapeError('trainSft', 'the policy has no trainable variables (a frozen clone?)');
  const tok = policy.tokenizer;
  const encoded = examples.map((ex, i) => {
    if (typeof ex?.prompt !== 'string' || typeof ex?.completion !== 'string') {
      throw new OptionsError('trainSft', [{ path: `examples[${i}]`, message: 'must have string prompt and completion' }]);
    }
    const prompt = encodePrompt(tok, ex.prompt);
    const ids = [...prompt, ...tok.encode(ex.completion), tok.eosId];
    if (ids.length > policy.maxSeqLen) {
      throw new ShapeError('trainSft', `examples[${i}] is ${ids.length} tokens long; the policy's maxSeqLen is ${policy.maxSeqLen}`);
    }
    return { ids, promptLen: prompt.length };
  });

  const rng = Rng.derive(seed, 'sft');
  let order: number[] = [];
  const next = () => {
    if (order.length === 0) order = rng.shuffle(encoded.map((_, i) => i));
    return order.pop()!;
  };

  // Adam as tf.train.adam (β 0.9/0.999, ε 1e-7), one variable at a time: tf.train.adam
  // updates every variable inside one tidy, so its temporaries (≈8× the parameters) all
  // exist at once, more than wasm's 4 GB heap holds at 135M parameters.
  const moments = vars.map((v) => tf.tidy(() => [tf.variable(tf.zerosLike(v), false), tf.variable(tf.zerosLike(v), false)] as const));
  const losses: number[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const picked = Array.from({ length: examplesPerStep }, () => encoded[next()]!);
      const T = Math.max(...picked.map((e) => e.ids.length));
      const B = picked.length;
      const tokens = new Int32Array(B * T).fill(tok.padId);
      const mask = new Float32Array(B * T);
      const lossMask = new Float32Array(B * T);
      picked.forEach((e, r) => {
        const start = r * T + (T - e.ids.length);
        tokens.set(e.ids, start);
        mask.fill(1, start, (r + 1) * T);
        lossMask.fill(1, start + e.promptLen, (r + 1) * T);
      });
      const loss = tf.tidy(() => {
        const input = { tokens: tf.tensor2d(tokens, [B, T], 'int32'), attentionMask: tf.tensor2d(mask, [B, T]) };
        const m = tf.slice(tf.tensor2d(lossMask, [B, T]), [0, 1], [B, T - 1]);
        const targets = tf.slice(input.tokens, [0, 1], [B, T - 1]);
        const { value, grads } = tf.variableGrads(() => {
          const logits = policy.forward(input);
          const logp = gatherLogProbs(tf.slice(logits, [0, 0, 0], [B, T - 1, -1]), targets);
          return tf.neg(tf.div(tf.sum(tf.mul(logp, m)), tf.sum(m))) as tf.Scalar;
        }, vars);
        const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
        const scale = tf.minimum(1, tf.div(SFT_MAX_GRAD_NORM, tf.add(norm, 1e-6)));
        const adam = { lr: learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-7, t: step + 1, weightDecay: 0, mode: 'adam' as const };
        vars.forEach((x, i) => {
          const g = grads[x.name];
          if (!g) return;
          const [m, v] = moments[i]!;
          tf.tidy(() => {
            const [x1, m1, v1] = adamStep(x, tf.mul(g, scale), m, v, adam);
            m.assign(m1);
            v.assign(v1);
            x.assign(x1);
          });
        });
        return value;
      });
      const value = (await loss.data())[0]!;
      loss.dispose();
      losses.push(value);
      onStep?.({ step, loss: value });
    }
  } finally {
    tf.dispose(moments.flat());
  }
  return { losses };
}
