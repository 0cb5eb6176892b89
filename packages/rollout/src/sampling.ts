import { RftError, type Rng, type SamplingParams } from '@rftkit/core';
import { z } from 'zod';

/**
 * Sampling parameters of a rollout. Defaults: plain ancestral sampling at T=1, 32 new
 * tokens, stop at eos only.
 */
export const samplingSchema = z.strictObject({
  temperature: z
    .number()
    .min(0)
    .finite()
    .default(1)
    .describe('Divides the logits before softmax; 0 = greedy (argmax, lowest id on ties).'),
  topK: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('Keep the k most probable tokens (ties with the k-th are kept too); 0 = off.'),
  topP: z
    .number()
    .gt(0)
    .max(1)
    .default(1)
    .describe('Keep the smallest most-probable set with cumulative probability >= p (at least one); 1 = off.'),
  minP: z
    .number()
    .min(0)
    .max(1)
    .default(0)
    .describe('Keep tokens with probability >= minP * (largest probability); 0 = off.'),
  maxNewTokens: z.number().int().min(1).default(32).describe('Most response tokens per row (eos included).'),
  stopTokens: z
    .array(z.number().int().min(0))
    .default([])
    .describe('Token ids that end a response besides eos; kept in the response with mask 1.'),
});

export type SamplingOptions = z.input<typeof samplingSchema>;

/** `samplingSchema`'s defaults: T=1, no truncation, 32 new tokens, no extra stop tokens. */
export const defaultSampling: SamplingParams = Object.freeze(samplingSchema.parse({})) as SamplingParams;

/** One drawn token and its log-probs. */
export interface SampledToken {
  token: number;
  /** log q(token), q = the tempered, truncated, renormalised distribution it was drawn from. */
  logp: number;
  /** log softmax(logits)(token): the policy at T=1, untruncated. */
  logpT1: number;
}

type Truncation = Pick<SamplingParams, 'temperature' | 'topK' | 'topP' | 'minP'>;

// Cumulative sums of float64 probabilities may land a few ulps under p; a nucleus that
// reaches p up to rounding is complete.
const TOP_P_EPS = 1e-12;

/**
 * Marks the tokens the truncation keeps and returns their tempered weights
 * `w[i] = exp(logits[i]/T - max)` (0 for dropped tokens) and the log of their sum.
 *
 * Order (as in vLLM and HF transformers): temperature, then top-k, then top-p on the
 * tempered distribution renormalised over the top-k set, then min-p. Every filter is a
 * threshold, so equally probable tokens are kept or dropped together.
 */
function truncate(logits: ArrayLike<number>, params: Truncation, w: Float64Array): { logZ: number; shift: number } {
  const V = logits.length;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < V; i++) {
    const x = logits[i]!;
    if (Number.isNaN(x) || x === Number.POSITIVE_INFINITY) {
      throw new RftError('E_STATE', `rollout: the policy produced a non-finite logit (${x}) for token ${i}`);
    }
    if (x > max) max = x;
  }
  if (max === Number.NEGATIVE_INFINITY) throw new RftError('E_STATE', 'rollout: every logit is -Infinity');

  const T = params.temperature;
  if (T === 0) {
    // Greedy: all mass on the first arg-max.
    w.fill(0);
    for (let i = 0; i < V; i++) {
      if (logits[i] === max) {
        w[i] = 1;
        break;
      }
    }
    return { logZ: 0, shift: max };
  }

  const shift = max / T;
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const e = Math.exp(logits[i]! / T - shift);
    w[i] = e;
    sum += e;
  }

  const needSort = (params.topK > 0 && params.topK < V) || params.topP < 1;
  if (needSort) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => w[b]! - w[a]!);
    if (params.topK > 0 && params.topK < V) {
      const threshold = w[order[params.topK - 1]!]!;
      sum = 0;
      for (let i = 0; i < V; i++) {
        if (w[i]! < threshold) w[i] = 0;
        else sum += w[i]!;
      }
    }
    if (params.topP < 1) {
      const target = params.topP * sum * (1 - TOP_P_EPS);
      let cum = 0;
      let threshold = 0;
      for (const i of order) {
        cum += w[i]!;
        threshold = w[i]!;
        if (cum >= target) break;
      }
      sum = 0;
      for (let i = 0; i < V; i++) {
        if (w[i]! < threshold) w[i] = 0;
        else sum += w[i]!;
      }
    }
  }

  if (params.minP > 0) {
    // The most probable token always survives top-k/top-p, and its weight is exp(0) = 1.
    const threshold = params.minP;
    sum = 0;
    for (let i = 0; i < V; i++) {
      if (w[i]! < threshold) w[i] = 0;
      else sum += w[i]!;
    }
  }
  return { logZ: Math.log(sum), shift };
}

/**
 * The distribution a row is sampled from: probabilities over the vocabulary after
 * temperature and truncation, renormalised (0 on dropped tokens). Float64 on the host.
 */
export function samplingDistribution(logits: ArrayLike<number>, params: Truncation): Float64Array {
  const w = new Float64Array(logits.length);
  const { logZ } = truncate(logits, params, w);
  const Z = Math.exp(logZ);
  for (let i = 0; i < w.length; i++) w[i] = w[i]! / Z;
  return w;
}

/** log softmax(logits)[token] at T=1, in float64. */
export function logSoftmaxAt(logits: ArrayLike<number>, token: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return logits[token]! - max - Math.log(sum);
}

/**
 * Draws one token from one row of next-token logits (host-side, float64 math) and
 * returns it with its behaviour log-prob and its log-prob at T=1. `scratch` (length ≥
 * vocab) avoids an allocation per call in decode loops.
 */
export function sampleToken(
  logits: ArrayLike<number>,
  params: Truncation,
  rng: Rng,
  scratch: Float64Array = new Float64Array(logits.length),
): SampledToken {
  const V = logits.length;
  const w = scratch.length === V ? scratch : scratch.subarray(0, V);
  const { logZ, shift } = truncate(logits, params, w);
  let token = -1;
  if (params.temperature === 0) {
    token = w.indexOf(1);
    return { token, logp: 0, logpT1: logSoftmaxAt(logits, token) };
  }
  const u = rng.float() * Math.exp(logZ);
  let cum = 0;
  for (let i = 0; i < V; i++) {
    const wi = w[i]!;
    if (wi === 0) continue;
    token = i;
    cum += wi;
    if (u < cum) break;
  }
  // Falls through to the last kept token if rounding left u ≥ the total.
  return { token, logp: logits[token]! / params.temperature - shift - logZ, logpT1: logSoftmaxAt(logits, token) };
}
