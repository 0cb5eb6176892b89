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
