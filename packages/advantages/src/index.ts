// Public API of @rftkit/advantages: host-side advantage estimators (family 'advantage').
import type { ComponentDefinition } from '@rftkit/core';
import { gpgAdvantage } from './gpg';
import { normalizedAdvantage } from './normalized';
import { opoAdvantage } from './opo';
import { passAtKAdvantage } from './pass-at-k';
import { batchStdAdvantage, drGrpoAdvantage, grpoAdvantage, rlooAdvantage } from './presets';
import { reinforcePlusPlusAdvantage, reinforcePlusPlusBaselineAdvantage } from './reinforce-pp';

export { createGpgAdvantage, gpgAdvantage } from './gpg';
export {
  createNormalizedAdvantage,
  type NormalizedOptions,
  normalizedAdvantage,
  normalizedRowAdvantages,
  normalizedSchema,
} from './normalized';
export { createOpoAdvantage, opoAdvantage } from './opo';
export { createPassAtKAdvantage, passAtKAdvantage } from './pass-at-k';
export {
  batchStdAdvantage,
  createBatchStdAdvantage,
  createDrGrpoAdvantage,
  createGrpoAdvantage,
  createRlooAdvantage,
  drGrpoAdvantage,
  grpoAdvantage,
  rlooAdvantage,
} from './presets';
export {
  createReinforcePlusPlusAdvantage,
  createReinforcePlusPlusBaselineAdvantage,
  reinforcePlusPlusAdvantage,
  reinforcePlusPlusBaselineAdvantage,
} from './reinforce-pp';

/** Every advantage estimator of this package, for building a registry. */
export const advantageDefinitions: ComponentDefinition[] = [
  grpoAdvantage,
  drGrpoAdvantage,
  batchStdAdvantage,
  rlooAdvantage,
  reinforcePlusPlusAdvantage,
  reinforcePlusPlusBaselineAdvantage,
  gpgAdvantage,
  opoAdvantage,
  passAtKAdvantage,
  normalizedAdvantage,
] as ComponentDefinition[];
