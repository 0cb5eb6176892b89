export { dense, denseComposite } from './dense';
export { type AttentionOptions, attention, attentionComposite } from './attention';
export { type AdamStepOptions, adamStep, adamStepComposite } from './adam';
export { gelu, geluComposite } from './gelu';
export { layerNorm, layerNormComposite } from './layer-norm';
export { type TokenLogProbs, tokenLogProbs, tokenLogProbsComposite, tokenLogProbsGrad } from './token-log-probs';
export { type HeadTokenLogProbsOptions, headTokenLogProbs, headTokenLogProbsDense } from './head-token-log-probs';
export { sumOfSquares, sumOfSquaresComposite } from './sum-of-squares';
export { embeddingGrad, embeddingGradComposite } from './embedding-grad';
