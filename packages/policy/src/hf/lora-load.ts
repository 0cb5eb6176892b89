// `loadHfPolicy(folder, { lora })`: options checked, defaults filled (PEFT's), an adapter
// folder read when given, then the LoRA policy over the loaded base weights.
import { isAbsolute, resolve } from 'node:path';
import { parseOptions, type Tokenizer } from '@rftkit/core';
import type { HfModelConfig } from '@rftkit/hf';
import { defaultTargetModules } from './lora';
import { type LoraOptions, type LoraSettings, loraOptionsSchema } from './lora-options';
import { readPeftAdapter } from './lora-peft';
import { createHfLoraPolicy, type HfLoraPolicy } from './lora-policy';
import type { HfPolicyMeta, WeightMap } from './policy';

/** base_model_name_or_path for a model loaded from `source`: the Hub id of `hf:org/name[@rev]`, else the folder. */
export function baseModelName(source: string, folder: string): string {
  return source.startsWith('hf:') ? source.slice(3).split('@')[0]! : folder;
}

export async function loadLoraPolicy(options: {
  lora: LoraOptions;
  source: string;
  config: HfModelConfig;
  weights: WeightMap;
  tokenizer: Tokenizer;
  meta: HfPolicyMeta;
  trainable?: boolean;
  headChunkTokens?: number;
}): Promise<HfLoraPolicy> {
  const o = parseOptions('lora', loraOptionsSchema, options.lora);
  const baseModel = o.baseModel ?? baseModelName(options.source, options.meta.sourceFolder ?? options.source);
  const common = { config: options.config, weights: options.weights, tokenizer: options.tokenizer, meta: options.meta, trainable: options.trainable, headChunkTokens: options.headChunkTokens };
  if (o.adapter !== undefined) {
    const dir = isAbsolute(o.adapter) ? o.adapter : resolve(o.adapter);
    const adapter = await readPeftAdapter(dir);
    const settings: LoraSettings = { ...adapter.settings, dropout: o.dropout ?? adapter.settings.dropout, seed: o.seed, baseModel: o.baseModel ?? (adapter.settings.baseModel || baseModel) };
    return createHfLoraPolicy({ ...common, settings, adapter: adapter.tensors, adapterSource: dir });
  }
  const rank = o.rank ?? 8;
  const settings: LoraSettings = {
    rank,
    alpha: o.alpha ?? 8,
    dropout: o.dropout ?? 0,
    targetModules: o.targetModules ?? defaultTargetModules(options.config.modelType),
    rslora: o.rslora ?? false,
    seed: o.seed,
    baseModel,
  };
  return createHfLoraPolicy({ ...common, settings });
}
