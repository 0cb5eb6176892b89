// LoRA adapters in PEFT's folder format: adapter_config.json (LoraConfig) and
// adapter_model.safetensors with tensors `base_model.model.<module>.lora_{A,B}.weight`
// (A `[r, in]`, B `[out, r]`), which `PeftModel.from_pretrained(base, folder)` loads.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, ConfigError } from '@rftkit/core';
import { readSafetensorsFile, writeSafetensorsFile } from '@rftkit/hf';
import { adapterKeys, type LoraModule, PEFT_PREFIX } from './lora';
import type { LoraSettings } from './lora-options';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

export type AdapterWeights = Record<string, { shape: number[]; values: Float32Array }>;

/** What an adapter folder holds, read and checked (tensors keyed as the policy's weight map). */
export interface PeftAdapter {
  settings: Omit<LoraSettings, 'seed'>;
  /** `<module>.lora_A.weight` / `<module>.lora_B.weight` → values. */
  tensors: AdapterWeights;
}

/** PEFT fields rftkit does not implement, with the value that means "off". */
const UNSUPPORTED: Array<[string, (v: unknown) => boolean, string]> = [
  ['use_dora', (v) => !v, 'DoRA'],
  ['lora_bias', (v) => !v, 'LoRA bias terms'],
  ['modules_to_save', (v) => v == null || (Array.isArray(v) && v.length === 0), 'fully trained extra modules'],
  ['layers_to_transform', (v) => v == null, 'a layer subset (name the layers in a target_modules regex instead)'],
  ['rank_pattern', (v) => v == null || (typeof v === 'object' && Object.keys(v as object).length === 0), 'per-module ranks'],
  ['alpha_pattern', (v) => v == null || (typeof v === 'object' && Object.keys(v as object).length === 0), 'per-module alphas'],
  ['exclude_modules', (v) => v == null || (Array.isArray(v) && v.length === 0), 'exclude_modules'],
  ['target_parameters', (v) => v == null || (Array.isArray(v) && v.length === 0), 'target_parameters'],
  ['trainable_token_indices', (v) => v == null, 'trainable tokens'],
];

/** Reads and checks a PEFT LoRA adapter folder's config and tensors. */
export async function readPeftAdapter(dir: string): Promise<PeftAdapter> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(configPath)) {
    throw new ConfigError(dir, [{ path: ADAPTER_CONFIG_FILE, message: 'missing: pass a PEFT adapter folder (written by save_pretrained)' }]);
  }
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(configPath, [{ path: '(file)', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  const issues: Array<{ path: string; message: string }> = [];
  if (c.peft_type !== 'LORA') issues.push({ path: 'peft_type', message: `must be 'LORA', got ${JSON.stringify(c.peft_type)}` });
  if (c.task_type != null && c.task_type !== 'CAUSAL_LM') issues.push({ path: 'task_type', message: `must be 'CAUSAL_LM', got ${JSON.stringify(c.task_type)}` });
  if (!Number.isInteger(c.r) || (c.r as number) < 1) issues.push({ path: 'r', message: `must be an integer ≥ 1, got ${JSON.stringify(c.r)}` });
  if (typeof c.lora_alpha !== 'number' || !(c.lora_alpha > 0)) issues.push({ path: 'lora_alpha', message: `must be a number > 0, got ${JSON.stringify(c.lora_alpha)}` });
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || dropout < 0 || dropout >= 1) issues.push({ path: 'lora_dropout', message: `must be in [0, 1), got ${JSON.stringify(dropout)}` });
  const targets = c.target_modules;
  const okTargets = (typeof targets === 'string' && targets.length > 0) || (Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === 'string'));
  if (!okTargets) issues.push({ path: 'target_modules', message: `must be a list of module names or a regex string, got ${JSON.stringify(targets)}` });
  if ((c.bias ?? 'none') !== 'none') issues.push({ path: 'bias', message: `only 'none' is supported, got ${JSON.stringify(c.bias)}` });
  for (const [field, off, what] of UNSUPPORTED) {
    if (!off(c[field])) issues.push({ path: field, message: `${what} is not supported (got ${JSON.stringify(c[field])})` });
  }
  if (issues.length) throw new ConfigError(configPath, issues);

  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(weightsPath)) throw new CheckpointError(dir, `missing ${ADAPTER_WEIGHTS_FILE} (adapter_model.bin is not read: save with safe_serialization)`);
  const tensors: AdapterWeights = {};
  for (const [name, t] of await readSafetensorsFile(weightsPath)) {
    if (!name.startsWith(PEFT_PREFIX)) throw new CheckpointError(weightsPath, `tensor '${name}' is not a PEFT adapter tensor (names start with '${PEFT_PREFIX}')`);
    tensors[name.slice(PEFT_PREFIX.length)] = { shape: t.shape, values: t.values };
  }
  return {
    settings: {
      rank: c.r as number,
      alpha: c.lora_alpha as number,
      dropout: dropout as number,
      targetModules: targets as string[] | string,
      rslora: Boolean(c.use_rslora),
      baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : '',
    },
    tensors,
  };
}

/**
 * Checks an adapter's tensors against the modules the policy targets: the same names
 * (no module missing or extra) and shapes A `[r, in]`, B `[out, r]`.
 */
export function checkAdapterTensors(source: string, tensors: AdapterWeights, modules: readonly LoraModule[], rank: number): void {
  const expected = new Map<string, number[]>();
  for (const m of modules) {
    const { a, b } = adapterKeys(m.name);
    expected.set(a, [rank, m.inFeatures]);
    expected.set(b, [m.outFeatures, rank]);
  }
  const missing = [...expected.keys()].filter((k) => !(k in tensors));
  const extra = Object.keys(tensors).filter((k) => !expected.has(k));
  if (missing.length || extra.length) {
    const list = (xs: string[]) => (xs.length ? `${xs.slice(0, 4).join(', ')}${xs.length > 4 ? `, … (${xs.length})` : ''}` : 'none');
    throw new CheckpointError(source, `adapter tensors differ from the targeted modules (missing: ${list(missing)}; unknown: ${list(extra)})`);
  }
  for (const [k, shape] of expected) {
    const t = tensors[k]!;
    if (t.shape.join(',') !== shape.join(',')) throw new CheckpointError(source, `adapter tensor '${k}' has shape [${t.shape}], expected [${shape}]`);
  }
}

/** Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors` as PEFT's save_pretrained does. */
export async function writePeftAdapter(dir: string, settings: LoraSettings, modelType: string, tensors: AdapterWeights): Promise<void> {
  await mkdir(dir, { recursive: true });
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: settings.baseModel,
    r: settings.rank,
    lora_alpha: settings.alpha,
    lora_dropout: settings.dropout,
    target_modules: settings.targetModules,
    use_rslora: settings.rslora,
    // GPT-2's Conv1D stores its weight [in, out]; PEFT marks that with fan_in_fan_out.
    fan_in_fan_out: modelType === 'gpt2',
    bias: 'none',
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_dora: false,
    revision: null,
  };
  await writeFile(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  const list = Object.keys(tensors)
    .sort()
    .map((k) => ({ name: `${PEFT_PREFIX}${k}`, shape: tensors[k]!.shape, values: tensors[k]!.values }));
  await writeSafetensorsFile(join(dir, ADAPTER_WEIGHTS_FILE), list, { metadata: { format: 'pt' } });
}
