export type { Arch, HfParam } from './arch';
export { archFor, createHfPolicy, type HfPolicy, type HfPolicyMeta } from './policy';
export { type ExportHfPolicyOptions, exportHfPolicy, type LoadHfPolicyOptions, loadHfPolicy } from './load';
export { adapterParameterCount, defaultTargetModules, type LoraModule, linearModules, selectModules } from './lora';
export { LORA_MODULE_NAMES, type LoraOptions, type LoraSettings, loraOptionsSchema, loraScaling } from './lora-options';
export { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type PeftAdapter, readPeftAdapter, writePeftAdapter } from './lora-peft';
export { createHfLoraPolicy, type HfLoraPolicy, type LoraInfo, isHfLoraPolicy } from './lora-policy';
