// Public API of @rftkit/tasks.
export {
  ARITHMETIC_ALPHABET,
  type ArithmeticOptions,
  arithmeticDefinition,
  arithmeticReward,
  arithmeticSchema,
  createArithmeticTask,
  finalAnswer,
  parseArithmeticPrompt,
} from './arithmetic';
export {
  COUNTDOWN_ALPHABET,
  type CountdownOptions,
  countdownDefinition,
  countdownReward,
  countdownSchema,
  createCountdownTask,
  formatCountdownPrompt,
  parseCountdownPrompt,
} from './countdown';
export { enumerateCountdownSolutions, reachableValues, verifyCountdown } from './countdown-solver';
export { taskDefinitions } from './definitions';
export {
  type Gsm8kOptions,
  createGsm8kTask,
  extractGsm8kAnswer,
  gsm8kDefinition,
  gsm8kReference,
  gsm8kReward,
  gsm8kSchema,
  loadGsm8kRows,
  parseGsm8kNumber,
} from './gsm8k';
export {
  type JsonlDataset,
  type JsonlDatasetOptions,
  type JsonlTaskOptions,
  checkPromptLengths,
  createJsonlTask,
  describeSkipped,
  jsonlTaskDefinition,
  jsonlTaskSchema,
  loadJsonlDataset,
} from './jsonl';
export {
  SORT_DIGITS_ALPHABET,
  type SortDigitsOptions,
  createSortDigitsTask,
  sortDigitsDefinition,
  sortDigitsSchema,
} from './sort-digits';
export { splitOf } from './split';
export { taskRewardDefinition } from './task-reward';
