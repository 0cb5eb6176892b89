// Public API of @rftkit/losses: policy losses (family 'loss'), loss aggregation
// ('aggregation') and KL estimators ('kl').
import type { ComponentDefinition } from '@rftkit/core';
import { cispoLoss } from './cispo';
import { gmpoLoss } from './gmpo';
import { gspoLoss } from './gspo';
import { ppoClipLoss } from './ppo-clip';
import { reinforceLoss } from './reinforce';
import { sapoLoss } from './sapo';

export {
  type AggregationMode,
  aggregate,
  aggregationDefinitions,
  aggregationModes,
  createAggregator,
} from './aggregation';
export { cispoLoss, createCispoLoss } from './cispo';
export { createGmpoLoss, gmpoLoss, gmpoSchema } from './gmpo';
export { createGspoLoss, gspoLoss } from './gspo';
export {
  createKlEstimator,
  type KlClamps,
  type KlEstimatorName,
  klDefinitions,
  klEstimators,
  klTensor,
  klTokenRewards,
  klValue,
} from './kl';
export { createPpoClipLoss, ppoClipLoss, ppoClipSchema } from './ppo-clip';
export { createReinforceLoss, reinforceLoss } from './reinforce';
export { createSapoLoss, sapoLoss, sapoSchema } from './sapo';
export { stopGradient } from './tensor-utils';

/** Every policy loss of this package, for building a registry. */
export const policyLossDefinitions: ComponentDefinition[] = [
  ppoClipLoss,
  reinforceLoss,
  gspoLoss,
  cispoLoss,
  sapoLoss,
  gmpoLoss,
] as ComponentDefinition[];
