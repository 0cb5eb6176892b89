import { type AdvantageEstimator, type AdvantageInput, defineComponent } from '@rftkit/core';
import { z } from 'zod';
import { groupRows, result, rowScores, validateInput, whitenTokens } from './common';
import { knobFields, normalizedRowAdvantages } from './normalized';

/**
 * REINFORCE++: per-token discounted returns G_t = r_t + γ·G_{t+1} over the response, where
 * r_t is the token reward plus, on the last response token, the outcome score; then
 * whitened over every response token of the batch (verl's `masked_whiten`).
 */
export const reinforcePlusPlusAdvantage = defineComponent({
  id: 'reinforce++',
  family: 'advantage',
  description: 'REINFORCE++: discounted token returns (score on the last token), whitened over the batch.',
  schema: z
    .strictObject({ gamma: z.number().min(0).max(1).default(1).describe('Discount factor of the token returns.') }),
  build: ({ gamma }): AdvantageEstimator => ({
    id: 'reinforce++',
    compute(input: AdvantageInput) {
      validateInput('advantage:reinforce++', input);
      const { rows, seqLen, responseMask, tokenRewards } = input;
      const returns = new Float64Array(rows * seqLen);
      for (let r = 0; r < rows; r++) {
        const base = r * seqLen;
        let last = -1;
        for (let t = seqLen - 1; t >= 0; t--) {
          if (responseMask[base + t]! > 0) {
            last = t;
            break;
          }
        }
        // verl's loop: the running return resets wherever the mask is 0.
        let running = 0;
        for (let t = seqLen - 1; t >= 0; t--) {
          const m = responseMask[base + t]!;
          const reward = (tokenRewards ? tokenRewards[base + t]! * m : 0) + (t === last ? input.scores[r]! : 0);
          running = reward + gamma * running;
          returns[base + t] = running;
          running *= m;
        }
      }
      const advantages = Float32Array.from(whitenTokens(returns, responseMask));
      const scores = rowScores(input);
      return result(advantages, input, scores, groupRows(input.groupIds));
    },
  }),
});

/** REINFORCE++-baseline: r − μ_g broadcast to tokens, then whitened over the batch's response tokens. */
export const reinforcePlusPlusBaselineAdvantage = defineComponent({
  id: 'reinforce++-baseline',
  family: 'advantage',
  description: 'REINFORCE++-baseline: (r − group mean) broadcast to tokens, whitened over the batch.',
  schema: z.strictObject({ singletonGroups: knobFields.singletonGroups }),
  build: ({ singletonGroups }): AdvantageEstimator => ({
    id: 'reinforce++-baseline',
    compute(input: AdvantageInput) {
      validateInput('advantage:reinforce++-baseline', input);
      const { rows, seqLen, responseMask } = input;
      const scores = rowScores(input);
      const groups = groupRows(input.groupIds);
      const centred = normalizedRowAdvantages(scores, groups, {
        mean: 'group',
        std: 'none',
        leaveOneOut: false,
        eps: 0,
        biasedStd: false,
        singletonGroups,
      });
      const tokens = new Float64Array(rows * seqLen);
      for (let i = 0; i < tokens.length; i++) tokens[i] = centred[Math.floor(i / seqLen)]! * responseMask[i]!;
      const advantages = Float32Array.from(whitenTokens(tokens, responseMask));
      return result(advantages, input, scores, groups);
    },
  }),
});

export const createReinforcePlusPlusAdvantage = reinforcePlusPlusAdvantage.create;
export const createReinforcePlusPlusBaselineAdvantage = reinforcePlusPlusBaselineAdvantage.create;
