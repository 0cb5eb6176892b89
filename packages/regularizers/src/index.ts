// Public API of @rftkit/regularizers.
import type { ComponentDefinition } from '@rftkit/core';
import { adaptiveEntropyDefinition } from './adaptive-entropy';
import { aepoDefinition } from './aepo';
import { clipCovDefinition } from './clip-cov';
import { dcpoDefinition } from './dcpo';
import { entropyAdvDefinition } from './entropy-adv';
import { entropyBonusDefinition } from './entropy-bonus';
import { klCovDefinition } from './kl-cov';
import { klPenaltyDefinition } from './kl-penalty';
import { targetReinforceDefinition } from './target-reinforce';

export * from './adaptive-entropy';
export * from './aepo';
export * from './clip-cov';
export * from './covariance';
export * from './dcpo';
export * from './entropy-adv';
export * from './entropy-bonus';
export * from './kl-cov';
export * from './kl-penalty';
export * from './target-reinforce';
export * from './target-rows';
export * from './temperature-rule';

/** Every regularizer of this package, for `new Registry('regularizer', regularizerDefinitions)`. */
export const regularizerDefinitions: ComponentDefinition[] = [
  entropyBonusDefinition,
  adaptiveEntropyDefinition,
  klPenaltyDefinition,
  entropyAdvDefinition,
  clipCovDefinition,
  klCovDefinition,
  targetReinforceDefinition,
  aepoDefinition,
  dcpoDefinition,
];
