// Public API of @rftkit/hf: Hugging Face model folders (weights, config), the Hub cache,
// tokenizers and chat templates.
export {
  type HfModelConfig,
  type HfModelType,
  type Llama3RopeScaling,
  SUPPORTED_MODEL_TYPES,
  SUPPORTED_ROPE_TYPES,
  parseHfConfig,
  readHfConfig,
} from './config';
export {
  type HfTensor,
  type ReadSafetensorsOptions,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type WriteSafetensorsOptions,
  float32ToBf16Bits,
  readSafetensorsFile,
  readSafetensorsHeader,
  writeSafetensorsFile,
} from './safetensors';
export { INDEX_FILE, SINGLE_FILE, readSafetensorsFolder, safetensorsFiles, takeTensor } from './weights';
export {
  type HubModelRef,
  ModelSourceError,
  type ResolveModelOptions,
  type ResolvedModel,
  isModelFileWanted,
  parseHubSource,
  resolveModelSource,
} from './hub';
export { type ChatMessage, type ChatTemplateOptions, compileChatTemplate, renderChatTemplate, selectChatTemplate } from './chat-template';
export {
  CHAT_TEMPLATE_FILE,
  GENERATION_CONFIG_FILE,
  HfTokenizer,
  SPECIAL_TOKENS_MAP_FILE,
  type HfTokenizerFiles,
  type HfTokenizerJSON,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  loadHfTokenizer,
} from './tokenizer';
