// Public API of @rftkit/rewards.
export { type ArithmeticNode, evaluateArithmetic, evaluateExpression, parseArithmetic } from './arithmetic';
export { type BoxedMathOptions, boxedMathDefinition, boxedMathSchema, createBoxedMathReward } from './boxed-math';
export { rewardDefinitions } from './definitions';
export { RewardError, referenceOf } from './errors';
export { type ExactMatchOptions, createExactMatchReward, exactMatchDefinition, exactMatchSchema, normalizeText } from './exact-match';
export { type FormatOptions, createFormatReward, formatDefinition, formatSchema } from './format';
export { type RewardInputWithLength, responseLength } from './length';
export { type LengthPenaltyOptions, createLengthPenalty, lengthPenaltyDefinition, lengthPenaltySchema } from './length-penalty';
export { extractBoxed, mathAnswersEqual, normalizeMathAnswer } from './math-answer';
export {
  type NumericMatchOptions,
  createNumericMatchReward,
  extractLastNumber,
  numericMatchDefinition,
  numericMatchSchema,
  parseNumber,
} from './numeric-match';
export {
  type OverlongPenaltyOptions,
  createOverlongPenalty,
  overlongPenalty,
  overlongPenaltyDefinition,
  overlongPenaltySchema,
} from './overlong-penalty';
export { Rational } from './rational';
export {
  type RepetitionPenaltyOptions,
  createRepetitionPenalty,
  repeatedNgramFraction,
  repetitionPenaltyDefinition,
  repetitionPenaltySchema,
} from './repetition-penalty';
export { type ScoreBatchOptions, type ScoreReport, scoreBatch } from './score-batch';
export { readRewardValue } from './value';
export { type WeightedRewardOptions, createWeightedReward, weightedDefinition, weightedSchema } from './weighted';
