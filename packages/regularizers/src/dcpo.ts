import { defineComponent } from '@rftkit/core';
import type { JsonValue, Metrics, Regularizer, TrainBatch } from '@rftkit/core';
import { z } from 'zod';
import { chooseTemperature, controllerState, parseControllerState, readEntropy, temperatureRuleShape } from './temperature-rule';

export const dcpoSchema = z.strictObject({
  ...temperatureRuleShape,
  correctThreshold: z.number().default(0.05).describe('A response is correct when its score > correctThreshold'),
  maxAlpha: z.number().gt(0).default(0.1).describe('α before normalisation is min(|H − H_est|, maxAlpha) / (fraction correct)'),
});
export type DcpoOptions = z.input<typeof dcpoSchema>;

export interface DcpoShapeResult {
  advantages: Float32Array;
  alpha: number;
  fractionCorrect: number;
}

/**
 * A'_t = (1−α)·A_t + α·1[correct]·ρ_t on response tokens, ρ_t = π_old^T(o_t)/π_old(o_t);
 * α = a/(1+a), a = min(|H − H_est|, maxAlpha)/(fraction correct); α = 0 when nothing is correct.
 */
export function dcpoAdvantages(input: {
  advantages: Float32Array;
  responseMask: Float32Array;
  scores: Float32Array;
  rows: number;
  seqLen: number;
  logpT: Float32Array;
  logp1: Float32Array;
  reading: number;
  targetEntropy: number;
  correctThreshold: number;
  maxAlpha: number;
}): DcpoShapeResult {
  const { rows, seqLen } = input;
  // Scores are float32: compare in float32 as the reference does (0.05 is not "> 0.05").
  const threshold = Math.fround(input.correctThreshold);
  let nCorrect = 0;
  for (let r = 0; r < rows; r++) if (input.scores[r]! > threshold) nCorrect++;
  const fractionCorrect = rows > 0 ? nCorrect / rows : 0;
  if (nCorrect === 0) return { advantages: Float32Array.from(input.advantages), alpha: 0, fractionCorrect };
  const a = Math.min(Math.abs(input.targetEntropy - input.reading), input.maxAlpha) / fractionCorrect;
  const alpha = a / (1 + a);
  const out = new Float32Array(rows * seqLen);
  for (let r = 0; r < rows; r++) {
    const correct = input.scores[r]! > threshold ? 1 : 0;
    for (let t = 0; t < seqLen; t++) {
      const i = r * seqLen + t;
      if (!(input.responseMask[i]! > 0)) continue;
      const rho = Math.exp(input.logpT[i]! - input.logp1[i]!);
      out[i] = (1 - alpha) * input.advantages[i]! + alpha * correct * rho;
    }
  }
  return { advantages: out, alpha, fractionCorrect };
}

const ID = 'dcpo';

/**
 * DCPO (AEPO authors' follow-up): no extra rollout; the tempered policy enters through the
 * per-token ratio ρ_t = π_old^T(o_t)/π_old(o_t) mixed into the advantages of correct
 * responses, with T from the same controller as AEPO.
 */
export const dcpoDefinition = defineComponent({
  id: ID,
  family: 'regularizer',
  description: 'DCPO: mixes the tempered/untempered likelihood ratio of correct responses into the advantages, T steered toward a target entropy',
  schema: dcpoSchema,
  build: (options): Regularizer => {
    let reading = options.initialReading;
    let lastStep = 0;
    let last: Metrics = {};
    return {
      id: ID,
      shapeAdvantages(batch, context): TrainBatch {
        const temperature = chooseTemperature(reading, options);
        const statsT = context.tokenStats(batch, temperature);
        const stats1 = context.tokenStats(batch, 1);
        const result = dcpoAdvantages({
          advantages: batch.advantages,
          responseMask: batch.responseMask,
          scores: batch.scores,
          rows: batch.rows,
          seqLen: batch.seqLen,
          logpT: statsT.logp,
          logp1: stats1.logp,
          reading,
          targetEntropy: options.targetEntropy,
          correctThreshold: options.correctThreshold,
          maxAlpha: options.maxAlpha,
        });
        last = {
          'dcpo/temperature': temperature,
          'dcpo/entropy_reading': reading,
          'dcpo/target': options.targetEntropy,
          'dcpo/alpha': result.alpha,
          'dcpo/fraction_correct': result.fractionCorrect,
        };
        return { ...batch, advantages: result.advantages };
      },
      afterUpdate(metrics, info) {
        reading = readEntropy(ID, metrics, options.estimator, options.readingRows);
        lastStep = info.step;
      },
      metrics: () => last,
      state: (): JsonValue => ({ ...controllerState(reading, lastStep) }),
      loadState(state) {
        const s = parseControllerState(ID, state);
        reading = s.reading;
        lastStep = s.step;
      },
    };
  },
});

export function createDcpo(options?: DcpoOptions): Regularizer {
  return dcpoDefinition.create(options);
}
