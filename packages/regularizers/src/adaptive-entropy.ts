import { defineComponent, StateError } from '@rftkit/core';
import type { JsonValue, Metrics, Regularizer } from '@rftkit/core';
import { z } from 'zod';
import { entropyBonusTerm } from './entropy-bonus';
import { readEntropy } from './temperature-rule';

export const adaptiveEntropySchema = z
  .strictObject({
    targetEntropy: z.number().min(0).default(0.2).describe('Target entropy (Skywork-OR1: 0.2), in the units of `estimator`'),
    delta: z.number().gt(0).default(0.005).describe('Δ: coefficient change per step'),
    initialCoef: z.number().min(0).default(0).describe('Coefficient used at step 1'),
    maxCoef: z.number().gt(0).default(0.1).describe('Upper bound of the coefficient (lower bound is 0)'),
    onlyBelowTarget: z
      .boolean()
      .default(true)
      .describe('Apply the bonus only while the last reading is at or below target (Skywork-OR1), so entropy cannot run away'),
    estimator: z.enum(['exact', 'nll']).default('exact').describe("Which logged entropy is compared with the target: 'exact' or 'nll'"),
  })
  .refine((o) => o.initialCoef <= o.maxCoef, { message: 'initialCoef must be ≤ maxCoef', path: ['initialCoef'] });
export type AdaptiveEntropyOptions = z.input<typeof adaptiveEntropySchema>;

const ID = 'adaptive-entropy';

/**
 * Entropy bonus whose coefficient c is steered toward a target entropy (Skywork-OR1):
 * after each update, c ← clip(c + Δ, 0, max) when the reading is below target and
 * clip(c − Δ, 0, max) when above. The reading comes from the step's logged metrics, so the
 * coefficient of step k+1 follows the entropy measured in step k.
 */
export const adaptiveEntropyDefinition = defineComponent({
  id: ID,
  family: 'regularizer',
  description: 'Entropy bonus with a coefficient steered toward a target entropy (Skywork-OR1 adaptive entropy control)',
  schema: adaptiveEntropySchema,
  build: (options): Regularizer => {
    let coef = options.initialCoef;
    let reading: number | undefined;
    const active = () => !options.onlyBelowTarget || reading === undefined || reading <= options.targetEntropy;
    return {
      id: ID,
      lossTerms(context) {
        const c = active() ? coef : 0;
        return entropyBonusTerm(context, c, 'adaptive_entropy');
      },
      afterUpdate(metrics: Metrics) {
        reading = readEntropy(ID, metrics, options.estimator);
        const step = reading < options.targetEntropy ? options.delta : reading > options.targetEntropy ? -options.delta : 0;
        coef = Math.min(options.maxCoef, Math.max(0, coef + step));
      },
      metrics: () => ({
        'adaptive_entropy/coef': coef,
        'adaptive_entropy/active': active() ? 1 : 0,
        'adaptive_entropy/target': options.targetEntropy,
        ...(reading === undefined ? {} : { 'adaptive_entropy/reading': reading }),
      }),
      state: (): JsonValue => ({ version: 1, coef, reading: reading ?? null }),
      loadState(state: JsonValue) {
        if (typeof state !== 'object' || state === null || Array.isArray(state) || state.version !== 1) {
          throw new StateError(ID, `expected {version: 1, coef, reading}, got ${JSON.stringify(state)}`);
        }
        const c = state.coef;
        if (typeof c !== 'number' || !Number.isFinite(c) || c < 0 || c > options.maxCoef) {
          throw new StateError(ID, `coef: expected a number in [0, ${options.maxCoef}], got ${JSON.stringify(c)}`);
        }
        const r = state.reading;
        if (r !== null && (typeof r !== 'number' || !Number.isFinite(r))) {
          throw new StateError(ID, `reading: expected a finite number or null, got ${JSON.stringify(r)}`);
        }
        coef = c;
        reading = r ?? undefined;
      },
    };
  },
});

export function createAdaptiveEntropy(options?: AdaptiveEntropyOptions): Regularizer {
  return adaptiveEntropyDefinition.create(options);
}

