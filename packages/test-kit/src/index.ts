// Test policies and fixtures shared by rftkit's package tests (private, never published).
export { charTokenizer } from './char-tokenizer';
export { createTableBigramPolicy, type TableBigramPolicy } from './table-bigram';
export { BigramEngine, BigramPolicy } from './bigram';
export { charReward, entropyBonus, groupAdvantage, ppoClipLoss, reinforceLoss, tokenMean } from './components';
export { disposeContext, handContext } from './context';
export { chiSquareSurvival, chiSquareTest, gammaQ } from './stats';
export * from './tabular';
