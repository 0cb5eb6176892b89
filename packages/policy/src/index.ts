// Public API of @rftkit/policy.
export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, loadPolicy, type PolicyManifest, savePolicy } from './checkpoint';
export { policyDefinitions, transformerPolicyDefinition, transformerPolicySchema } from './definitions';
export { type TransformerConfig, type TransformerOptions, transformerOptionsSchema } from './options';
export { createTransformerPolicy, type TransformerPolicy, type WeightMap } from './policy';
export { SFT_MAX_GRAD_NORM, type SftExample, type SftOptions, trainSft } from './sft';
export {
  BOS_ID,
  type CharTokenizer,
  createCharTokenizer,
  EOS_ID,
  encodePrompt,
  PAD_ID,
  TokenizerError,
  tokenizerFromJSON,
} from './tokenizer';
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  adapterParameterCount,
  archFor,
  createHfLoraPolicy,
  createHfPolicy,
  type HfLoraPolicy,
  isHfLoraPolicy,
  LORA_MODULE_NAMES,
  type LoraInfo,
  type LoraOptions,
  type LoraSettings,
  linearModules,
  loraOptionsSchema,
  readPeftAdapter,
  writePeftAdapter,
  type ExportHfPolicyOptions,
  exportHfPolicy,
  type HfPolicy,
  type HfPolicyMeta,
  type LoadHfPolicyOptions,
  loadHfPolicy,
} from './hf/index';
