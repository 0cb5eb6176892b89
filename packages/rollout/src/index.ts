// Public API of @rftkit/rollout.
export {
  createRolloutEngine,
  isRowwiseEngine,
  type RolloutEngineOptions,
  type RowInfo,
  type RowSampling,
  type RowwiseRolloutEngine,
} from './engine';
export {
  encodePrompt,
  encodePromptIds,
  leftPad,
  type PromptFormat,
  promptFormatSchema,
  promptMessages,
  usesChatTemplate,
} from './prompt';
export {
  defaultSampling,
  logSoftmaxAt,
  type SampledToken,
  type SamplingOptions,
  sampleToken,
  samplingDistribution,
  samplingSchema,
} from './sampling';
export * from './samplers/index';
