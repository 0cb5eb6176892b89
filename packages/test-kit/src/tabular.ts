// Test fixtures: a one-position tabular language model (next-token logits = one trainable
// vector over six letters, whatever the context), exact seeded sampling from it, a GRPO
// estimator, a binary reward and a minimal policy-gradient update step. Small enough that
// every quantity (entropy, log-probs, gradients) can be computed by hand.
import {
  type AdvantageEstimator,
  type AugmentContext,
  type DecodeSession,
  deriveSeed,
  type ForwardInput,
  type Metrics,
  type Policy,
  type PromptRecord,
  type Regularizer,
  Rng,
  type RolloutBatch,
  type RolloutEngine,
  type RolloutRequest,
  type SamplingParams,
  type ScoredBatch,
  type Tokenizer,
  type TokenStats,
  type TrainBatch,
  type UpdateContext,
} from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { charTokenizer } from './char-tokenizer';

export const LETTERS = 'abcdef';
const SPECIAL = 3; // pad 0, bos 1, eos 2
export const VOCAB = SPECIAL + LETTERS.length;
/** Logit of the special tokens: never sampled (probability ≈ e^-30). */
const OFF = -30;

export const tokenizer: Tokenizer = charTokenizer(LETTERS);

export function softmax(logits: ArrayLike<number>, temperature = 1): number[] {
  const z = Array.from(logits, (x) => x / temperature);
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export function entropyOf(p: number[]): number {
  return -p.reduce((a, x) => a + (x > 0 ? x * Math.log(x) : 0), 0);
}

let counter = 0;

/** π(v) = softmax(θ)[v] over the six letters at every position. */
export class TabularPolicy implements Policy {
  readonly id = 'tabular';
  readonly tokenizer = tokenizer;
  readonly maxSeqLen = 8;
  readonly theta: tf.Variable;

  constructor(letterLogits: number[], trainable = true) {
    this.theta = tf.tidy(() => tf.variable(tf.tensor1d(letterLogits), trainable, `tabular_theta_${counter++}`));
  }

  /** Logits over the whole vocabulary `[V]`. */
  #logits(): tf.Tensor1D {
    return tf.concat([tf.fill([SPECIAL], OFF), this.theta]) as tf.Tensor1D;
  }

  forward(input: ForwardInput): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, S] = input.tokens.shape;
      return tf.broadcastTo(this.#logits(), [B, S, VOCAB]) as tf.Tensor3D;
    });
  }

  tokenStats(input: ForwardInput, options: { temperature?: number } = {}): TokenStats {
    const T = options.temperature ?? 1;
    return tf.tidy(() => {
      const [, S] = input.tokens.shape;
      const lsm = tf.logSoftmax(tf.div(this.#logits(), T));
      const oh = tf.oneHot(tf.cast(input.tokens, 'int32'), VOCAB);
      const notFirst = tf.tensor2d(Array.from({ length: S }, (_, t) => (t === 0 ? 0 : 1)), [1, S]);
      const logp = tf.mul(tf.sum(tf.mul(oh, lsm), -1), notFirst) as tf.Tensor2D;
      const h = tf.neg(tf.sum(tf.mul(tf.exp(lsm), lsm)));
      const entropy = tf.mul(tf.mul(tf.onesLike(logp), h), notFirst) as tf.Tensor2D;
      return { logp, entropy };
    });
  }

  startDecode(input: ForwardInput): { session: DecodeSession; logits: tf.Tensor2D } {
    const batch = input.tokens.shape[0];
    const logits = () => tf.tidy(() => tf.broadcastTo(this.#logits(), [batch, VOCAB]) as tf.Tensor2D);
    return { session: { batch, step: () => logits(), dispose: () => {} }, logits: logits() };
  }

  trainableVariables(): tf.Variable[] {
    return [this.theta];
  }

  clone(options: { trainable?: boolean } = {}): Policy {
    return new TabularPolicy(this.letterLogits(), options.trainable ?? true);
  }

  getWeights() {
    return { theta: { shape: [LETTERS.length], values: this.theta.dataSync() as Float32Array } };
  }

  setWeights(weights: Record<string, { shape: number[]; values: Float32Array }>): void {
    const w = weights.theta;
    if (w) this.theta.assign(tf.tensor1d(w.values));
  }

  config() {
    return { type: 'tabular' };
  }

  dispose(): void {
    this.theta.dispose();
  }

  letterLogits(): number[] {
    return Array.from(this.theta.dataSync());
  }

  probs(temperature = 1): number[] {
    return softmax(this.letterLogits(), temperature);
  }

  entropy(): number {
    return entropyOf(this.probs());
  }
}

export const defaultSampling: SamplingParams = {
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  maxNewTokens: 1,
  stopTokens: [],
};

/** Samples one letter per row, exactly, from softmax(θ/T) with the row's derived seed. */
export function createTabularEngine(policy: TabularPolicy): RolloutEngine {
  return {
    id: 'tabular',
    policy,
    async generate(request: RolloutRequest): Promise<RolloutBatch> {
      const { prompts, samplesPerPrompt: n, sampling } = request;
      const stream = request.stream ?? 'main';
      const rows = prompts.length * n;
      const seqLen = 2;
      const p = policy.probs(sampling.temperature);
      const p1 = policy.probs(1);
      const tokens = new Int32Array(rows * seqLen);
      const attentionMask = new Float32Array(rows * seqLen).fill(1);
      const responseMask = new Float32Array(rows * seqLen);
      const behaviourLogp = new Float32Array(rows * seqLen);
      const logpT1 = new Float32Array(rows * seqLen);
      const groupIds = new Int32Array(rows);
      const promptIndex = new Int32Array(rows);
      const seeds = new Uint32Array(rows);
      const responses: string[] = [];
      for (let i = 0; i < prompts.length; i++) {
        for (let s = 0; s < n; s++) {
          const r = i * n + s;
          const seed = deriveSeed(request.seed, stream, request.step, i, s);
          const u = new Rng(seed).float();
          let v = 0;
          let acc = p[0]!;
          while (u >= acc && v < p.length - 1) acc += p[++v]!;
          tokens[r * seqLen] = tokenizer.bosId;
          tokens[r * seqLen + 1] = v + SPECIAL;
          responseMask[r * seqLen + 1] = 1;
          behaviourLogp[r * seqLen + 1] = Math.log(p[v]!);
          logpT1[r * seqLen + 1] = Math.log(p1[v]!);
          groupIds[r] = (request.groupIdOffset ?? 0) + i;
          promptIndex[r] = i;
          seeds[r] = seed;
          responses.push(LETTERS[v]!);
        }
      }
      return {
        rows,
        seqLen,
        tokens,
        attentionMask,
        responseMask,
        behaviourLogp,
        logpT1,
        groupIds,
        promptIndex,
        prompts,
        responses,
        sampling: Array.from({ length: rows }, () => ({ ...sampling })),
        finishReason: Array.from({ length: rows }, () => 'length' as const),
        source: Array.from({ length: rows }, () => request.source ?? stream),
        seeds,
      };
    },
  };
}

/** Prompts whose reference is the set of correct letters. */
export function makePrompts(count: number, correct: string): PromptRecord[] {
  return Array.from({ length: count }, (_, i) => ({ id: `p${i}`, prompt: `q${i}`, reference: correct }));
}

/** 1 when the response letter is in the prompt's reference set, else 0. */
export async function scoreRows(batch: RolloutBatch): Promise<ScoredBatch> {
  const scores = Float32Array.from(batch.responses, (resp, r) => {
    const ref = batch.prompts[batch.promptIndex[r]!]?.reference ?? '';
    return resp.length > 0 && ref.includes(resp) ? 1 : 0;
  });
  return { ...batch, scores, rewardComponents: {} };
}

/** GRPO: (r − mean_g)/(std_g + 1e-6), unbiased std, broadcast to response tokens. */
export const grpo: AdvantageEstimator = {
  id: 'grpo',
  compute({ rows, seqLen, scores, groupIds, responseMask }) {
    const groups = new Map<number, number[]>();
    for (let r = 0; r < rows; r++) groups.set(groupIds[r]!, [...(groups.get(groupIds[r]!) ?? []), r]);
    const seq = new Float32Array(rows);
    for (const members of groups.values()) {
      const xs = members.map((r) => scores[r]!);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const variance = xs.length > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) : 0;
      for (const r of members) seq[r] = (scores[r]! - mean) / (Math.sqrt(variance) + 1e-6);
    }
    const advantages = new Float32Array(rows * seqLen);
    for (let i = 0; i < advantages.length; i++) advantages[i] = responseMask[i]! * seq[Math.floor(i / seqLen)]!;
    return { advantages, sequenceAdvantages: seq, metrics: {} };
  },
};

export function hostTokenStats(policy: Policy, batch: RolloutBatch, temperature: number) {
  return tf.tidy(() => {
    const shape: [number, number] = [batch.rows, batch.seqLen];
    const stats = policy.tokenStats(
      { tokens: tf.tensor2d(batch.tokens, shape, 'int32'), attentionMask: tf.tensor2d(batch.attentionMask, shape) },
      { temperature },
    );
    return { logp: stats.logp.dataSync() as Float32Array, entropy: stats.entropy.dataSync() as Float32Array };
  });
}

export interface Setup {
  policy: TabularPolicy;
  engine: RolloutEngine;
  prompts: PromptRecord[];
  samplesPerPrompt: number;
  seed: number;
  step: number;
}

export function augmentContext(s: Setup): AugmentContext {
  return {
    step: s.step,
    seed: s.seed,
    engine: s.engine,
    prompts: s.prompts,
    samplesPerPrompt: s.samplesPerPrompt,
    sampling: defaultSampling,
    score: scoreRows,
    advantages: grpo,
    policy: s.policy,
    tokenStats: (batch, temperature) => hostTokenStats(s.policy, batch, temperature),
  };
}

/** The main rollout of a step at T=1, scored, with GRPO advantages. */
export async function mainBatch(s: Setup): Promise<TrainBatch> {
  const rollout = await s.engine.generate({
    prompts: s.prompts,
    samplesPerPrompt: s.samplesPerPrompt,
    sampling: defaultSampling,
    seed: s.seed,
    step: s.step,
  });
  const scored = await scoreRows(rollout);
  const { advantages } = grpo.compute({ ...scored });
  return { ...scored, advantages };
}

/**
 * One policy-gradient step on the whole batch, the way the trainer composes hooks:
 * old log-probs at T=1; per-token loss −A·exp(logp − old) × row weight; tokenLoss hooks;
 * token-mean over the batch's response tokens; lossTerms; plain SGD. Returns the step's
 * metrics (entropy read before the update, as the trainer does).
 */
export function updateStep(
  policy: TabularPolicy,
  batch: TrainBatch,
  regularizers: Regularizer[],
  options: { learningRate: number; step?: number; seed?: number; refLogp?: Float32Array },
): Metrics {
  const step = options.step ?? 1;
  const seed = options.seed ?? 0;
  const old = hostTokenStats(policy, batch, 1);
  const shape: [number, number] = [batch.rows, batch.seqLen];
  let totalTokens = 0;
  for (const m of batch.responseMask) totalTokens += m;
  let nll = 0;
  for (let i = 0; i < old.logp.length; i++) nll -= old.logp[i]! * batch.responseMask[i]!;
  const metrics: Metrics = { 'entropy/exact': policy.entropy(), 'entropy/nll': nll / totalTokens };
  tf.tidy(() => {
    const tokens = tf.tensor2d(batch.tokens, shape, 'int32');
    const attentionMask = tf.tensor2d(batch.attentionMask, shape);
    const mask = tf.tensor2d(batch.responseMask, shape);
    const oldLogp = tf.tensor2d(old.logp, shape);
    const rowWeights = batch.rowWeights ? tf.tensor2d(batch.rowWeights, [batch.rows, 1]) : undefined;
    const aggregate = (v: tf.Tensor2D) => tf.div(tf.sum(tf.mul(v, mask)), totalTokens) as tf.Scalar;
    const { grads } = tf.variableGrads(() => {
      const stats = policy.tokenStats({ tokens, attentionMask });
      const ctx: UpdateContext = {
        step,
        seed,
        logp: stats.logp,
        entropy: stats.entropy,
        oldLogp,
        refLogp: options.refLogp ? tf.tensor2d(options.refLogp, shape) : undefined,
        advantages: tf.tensor2d(batch.advantages, shape),
        mask,
        aggregation: { totalTokens, totalSequences: batch.rows, maxResponseLength: 1 },
        aggregate,
      };
      for (const reg of regularizers) if (reg.tokenAdvantages) ctx.advantages = reg.tokenAdvantages({ ...ctx });
      let tokenLoss = tf.mul(tf.neg(ctx.advantages), tf.exp(tf.sub(stats.logp, oldLogp))) as tf.Tensor2D;
      if (rowWeights) tokenLoss = tf.mul(tokenLoss, rowWeights) as tf.Tensor2D;
      for (const reg of regularizers) if (reg.tokenLoss) tokenLoss = reg.tokenLoss(tokenLoss, { ...ctx });
      let total = aggregate(tokenLoss);
      for (const reg of regularizers) if (reg.lossTerms) total = tf.add(total, reg.lossTerms({ ...ctx }).loss) as tf.Scalar;
      return total;
    }, policy.trainableVariables());
    for (const v of policy.trainableVariables()) {
      const g = grads[v.name];
      if (g) v.assign(tf.sub(v, tf.mul(g, options.learningRate)));
    }
  });
  for (const reg of regularizers) reg.afterUpdate?.(metrics, { step, seed });
  return metrics;
}
