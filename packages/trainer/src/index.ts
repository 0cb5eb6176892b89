// Public API of @rftkit/trainer.
export {
  type OptimizerConfig,
  optimizerSchema,
  evalSchema,
  samplesSchema,
  type TrainerConfig,
  type TrainerConfigInput,
  trainerConfigSchema,
  trainerSamplingSchema,
} from './config';
export { passAtK } from './pass-at-k';
export { AdamOptimizer, clipByGlobalNorm, learningRate, type OptimizerState } from './optimizer';
export { hostTokenStats } from './token-stats';
export { runUpdate, type UpdateInput } from './update';
export { checkpointName, type TrainerCheckpointState } from './checkpoint';
export { drawPrompts } from './stages/rollout';
export { readJsonl } from './jsonl';
export { pickSamples, SAMPLE_TEXT_LIMIT, SampleLog, type SampleRow } from './samples';
export type { ScoringOptions } from './stages/score';
export { RATIO_BOUND, rolloutMismatchMetrics } from './mismatch-metrics';
export {
  createTrainer,
  type EvalResult,
  parseTrainerConfig,
  resumeTrainer,
  type RunSummary,
  type Trainer,
  type TrainerEvent,
  type TrainerOptions,
  type TrainerState,
} from './trainer';
