// An HF decoder with LoRA adapters: the base weights are frozen variables (never in a
// gradient's variable list), the adapters are the only trainable variables. Clones and the
// adapters-off reference view share the base weights (reference-counted), never copy them.
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, type ForwardInput, OptionsError, ShapeError, type TokenStats, type Tokenizer } from '@rftkit/core';
import type { HfModelConfig } from '@rftkit/hf';
import type { Arch } from './arch';
import type { Weights } from './blocks';
import { defaultHeadChunkTokens, headTokenStats, hiddenStates, startHfDecode } from './forward';
import {
  adapterKeys,
  adapterParameterCount,
  attachLoraRuntime,
  initLoraA,
  type LoraModule,
  mergedWeight,
  PEFT_PREFIX,
  selectModules,
} from './lora';
import { type LoraSettings, loraScaling } from './lora-options';
import { type AdapterWeights, checkAdapterTensors, writePeftAdapter } from './lora-peft';
import { archFor, checkInput, type HfPolicy, type HfPolicyMeta, type WeightMap } from './policy';

/** The resolved LoRA setup of a policy. */
export interface LoraInfo extends LoraSettings {
  /** alpha / rank (rsLoRA: alpha / √rank). */
  scaling: number;
  /** The adapted modules, in model order. */
  modules: readonly LoraModule[];
  /** Σ r·(in + out) over `modules`. */
  adapterParameters: number;
}

export type HfLoraPolicyConfig = ReturnType<HfPolicy['config']> & { lora: LoraSettings };

export interface HfLoraPolicy extends HfPolicy {
  readonly lora: LoraInfo;
  /**
   * The base model with the adapters off, sharing this policy's base weights (no copy): the
   * KL reference of a LoRA run. Frozen; it stays valid after this policy is disposed.
   */
  adaptersDisabled(): HfPolicy;
  /** Same as `adaptersDisabled()` (the trainer's hook for a reference policy). */
  referencePolicy(): HfPolicy;
  /** The adapters (host copies) under PEFT's tensor names; what checkpoints store. */
  getWeights(): WeightMap;
  /** Replaces the adapters; names and shapes as `getWeights` gives them. */
  setWeights(weights: WeightMap): void;
  /** Base weights with every adapter merged (W + scaling·B·A), under HF names and layouts. */
  mergedWeights(): WeightMap;
  /** The frozen base weights (host copies). */
  baseWeights(): WeightMap;
  /** Writes the adapters as a PEFT folder (adapter_config.json + adapter_model.safetensors). */
  saveAdapter(dir: string): Promise<void>;
  config(): HfLoraPolicyConfig;
  clone(options?: { trainable?: boolean }): HfLoraPolicy;
}

export function isHfLoraPolicy(policy: unknown): policy is HfLoraPolicy {
  return typeof policy === 'object' && policy !== null && typeof (policy as Partial<HfLoraPolicy>).adaptersDisabled === 'function';
}

/** Frozen base variables shared by a LoRA policy, its clones and views; freed with the last of them. */
class SharedBase {
  refs = 1;
  constructor(readonly vars: Record<string, tf.Variable>) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) tf.dispose(Object.values(this.vars));
  }
}

const copyOf = (t: tf.Tensor, shape: number[]) => ({ shape: [...shape], values: Float32Array.from(t.dataSync()) });

/** Shared by the LoRA policy and its adapters-off view: the forward entry points over a weight map. */
abstract class DecoderOverWeights {
  readonly id: string;
  readonly maxSeqLen: number;
  readonly hfConfig: HfModelConfig;
  protected disposed = false;

  constructor(
    protected readonly arch: Arch,
    protected readonly base: SharedBase,
    readonly tokenizer: Tokenizer,
    readonly meta: HfPolicyMeta,
    protected readonly headChunkTokens: number,
  ) {
    this.hfConfig = arch.cfg;
    this.id = `hf:${arch.cfg.modelType}`;
    this.maxSeqLen = arch.cfg.maxPositionEmbeddings;
  }

  /** The weight map the forward pass reads. */
  protected abstract weights(): Weights;

  protected live(): void {
    if (this.disposed) throw new ShapeError('policy', 'the policy was disposed');
  }

  forward(input: ForwardInput): tf.Tensor3D {
    checkInput('policy.forward', input, this.maxSeqLen, this.arch);
    const W = this.weights();
    const [B, T] = input.tokens.shape;
    return tf.tidy(() => tf.reshape(this.arch.head(W, hiddenStates(this.arch, W, input)), [B, T, -1]) as tf.Tensor3D);
  }

  tokenStats(input: ForwardInput, options: { temperature?: number } = {}): TokenStats {
    const temperature = options.temperature ?? 1;
    if (!(temperature > 0) || !Number.isFinite(temperature)) {
      throw new OptionsError('policy.tokenStats', [{ path: 'temperature', message: `must be a finite number > 0, got ${temperature}` }]);
    }
    checkInput('policy.tokenStats', input, this.maxSeqLen, this.arch);
    const W = this.weights();
    return tf.tidy(() => headTokenStats(this.arch, W, input, temperature, this.headChunkTokens) as unknown as tf.NamedTensorMap) as unknown as TokenStats;
  }

  startDecode(input: ForwardInput, maxNewTokens: number) {
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
      throw new ShapeError('policy.startDecode', `maxNewTokens must be an integer ≥ 1, got ${maxNewTokens}`);
    }
    checkInput('policy.startDecode', input, this.maxSeqLen, this.arch, maxNewTokens);
    return startHfDecode(this.arch, this.weights(), input, maxNewTokens);
  }

  baseWeights(): WeightMap {
    this.live();
    const out: WeightMap = {};
    for (const p of this.arch.params) out[p.name] = copyOf(this.base.vars[p.name]!, p.shape);
    return out;
  }

  protected baseConfig() {
    return {
      type: 'hf' as const,
      modelType: this.hfConfig.modelType,
      hf: this.meta.rawConfig,
      generation: this.meta.generationConfig,
      sourceFolder: this.meta.sourceFolder,
      headChunkTokens: this.headChunkTokens,
      // Not with LoRA: loadHfPolicy refuses recompute together with adapters.
      recompute: false,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.disposeOwn();
    this.base.release();
  }

  protected disposeOwn(): void {}
}

/** The base model alone (adapters off) over shared base weights: frozen, owns no tensors. */
class AdaptersOffView extends DecoderOverWeights implements HfPolicy {
  protected weights(): Weights {
    this.live();
    return this.base.vars;
  }
  trainableVariables(): tf.Variable[] {
    this.live();
    return [];
  }
  getWeights(): WeightMap {
    return this.baseWeights();
  }
  setWeights(): void {
    throw new ShapeError('policy.setWeights', 'an adapters-off view shares the frozen base weights of a LoRA policy; they cannot be set');
  }
  clone(): HfPolicy {
    this.live();
    return new AdaptersOffView(this.arch, this.base.retain(), this.tokenizer, this.meta, this.headChunkTokens);
  }
  config() {
    return this.baseConfig();
  }
}

class LoraDecoderPolicy extends DecoderOverWeights implements HfLoraPolicy {
  readonly lora: LoraInfo;
  readonly #adapters: Record<string, tf.Variable>;
  readonly #W: Weights;
  readonly #trainable: boolean;
  #dropoutCalls = 0;

  constructor(
    arch: Arch,
    base: SharedBase,
    adapters: Record<string, tf.Variable>,
    lora: LoraInfo,
    tokenizer: Tokenizer,
    meta: HfPolicyMeta,
    headChunkTokens: number,
    trainable: boolean,
  ) {
    super(arch, base, tokenizer, meta, headChunkTokens);
    this.lora = lora;
    this.#adapters = adapters;
    this.#trainable = trainable;
    this.#W = { ...base.vars, ...adapters };
    attachLoraRuntime(this.#W, {
      scaling: lora.scaling,
      dropout: lora.dropout,
      nextSeed: () => deriveSeed(lora.seed, 'lora-dropout', this.#dropoutCalls++),
    });
  }

  protected weights(): Weights {
    this.live();
    return this.#W;
  }

  trainableVariables(): tf.Variable[] {
    this.live();
    return this.#trainable ? Object.values(this.#adapters) : [];
  }

  adaptersDisabled(): HfPolicy {
    this.live();
    return new AdaptersOffView(this.arch, this.base.retain(), this.tokenizer, this.meta, this.headChunkTokens);
  }

  referencePolicy(): HfPolicy {
    return this.adaptersDisabled();
  }

  clone(options: { trainable?: boolean } = {}): HfLoraPolicy {
    this.live();
    const trainable = options.trainable ?? true;
    const adapters: Record<string, tf.Variable> = {};
    for (const [k, v] of Object.entries(this.#adapters)) adapters[k] = tf.variable(v, trainable);
    return new LoraDecoderPolicy(this.arch, this.base.retain(), adapters, this.lora, this.tokenizer, this.meta, this.headChunkTokens, trainable);
  }

  #adapterWeights(): AdapterWeights {
    this.live();
    const out: AdapterWeights = {};
    for (const [k, v] of Object.entries(this.#adapters)) out[k] = copyOf(v, v.shape);
    return out;
  }

  getWeights(): WeightMap {
    const out: WeightMap = {};
    for (const [k, w] of Object.entries(this.#adapterWeights())) out[`${PEFT_PREFIX}${k}`] = w;
    return out;
  }

  setWeights(weights: WeightMap): void {
    this.live();
    const tensors: AdapterWeights = {};
    for (const [name, w] of Object.entries(weights)) {
      tensors[name.startsWith(PEFT_PREFIX) ? name.slice(PEFT_PREFIX.length) : `(not a PEFT name) ${name}`] = w;
    }
    try {
      checkAdapterTensors('policy.setWeights', tensors, this.lora.modules, this.lora.rank);
    } catch (e) {
      throw new ShapeError('policy.setWeights', (e as Error).message);
    }
    for (const [k, v] of Object.entries(this.#adapters)) {
      const w = tensors[k]!;
      if (w.values.length !== v.size) throw new ShapeError('policy.setWeights', `adapter '${k}' has ${w.values.length} values; [${v.shape}] needs ${v.size}`);
      tf.tidy(() => v.assign(tf.tensor(Float32Array.from(w.values), v.shape, 'float32')));
    }
  }

  mergedWeights(): WeightMap {
    const out = this.baseWeights();
    for (const m of this.lora.modules) {
      const { a, b } = adapterKeys(m.name);
      const merged = mergedWeight(m, this.base.vars[m.weight]!, this.#adapters[a]!, this.#adapters[b]!, this.lora.scaling);
      out[m.weight] = copyOf(merged, out[m.weight]!.shape);
      merged.dispose();
    }
    return out;
  }

  async saveAdapter(dir: string): Promise<void> {
    await writePeftAdapter(dir, this.lora, this.hfConfig.modelType, this.#adapterWeights());
  }

  config(): HfLoraPolicyConfig {
    const { rank, alpha, dropout, targetModules, rslora, seed, baseModel } = this.lora;
    return { ...this.baseConfig(), lora: { rank, alpha, dropout, targetModules, rslora, seed, baseModel } };
  }

  protected override disposeOwn(): void {
    tf.dispose(Object.values(this.#adapters));
  }
}

/**
 * An HF policy with LoRA adapters on `settings.targetModules` (PEFT's matching rules; an entry
 * that matches nothing is an error listing the model's linear modules). Without `adapter`,
 * lora_A is kaiming-uniform and lora_B zero (PEFT's init), so the output equals the base's.
 */
export function createHfLoraPolicy(options: {
  config: HfModelConfig;
  weights: WeightMap;
  tokenizer: Tokenizer;
  meta: HfPolicyMeta;
  settings: LoraSettings;
  /** Adapter values (`<module>.lora_A.weight` keys), e.g. from a PEFT folder. */
  adapter?: AdapterWeights;
  adapterSource?: string;
  trainable?: boolean;
  headChunkTokens?: number;
}): HfLoraPolicy {
  const { settings } = options;
  const chunk = options.headChunkTokens ?? defaultHeadChunkTokens(options.config.vocabSize);
  if (!Number.isInteger(chunk) || chunk < 1) {
    throw new OptionsError('createHfPolicy', [{ path: 'headChunkTokens', message: `must be an integer ≥ 1, got ${chunk}` }]);
  }
  if (!Number.isInteger(settings.rank) || settings.rank < 1) {
    throw new OptionsError('lora', [{ path: 'rank', message: `must be an integer ≥ 1, got ${settings.rank}` }]);
  }
  const arch = archFor(options.config);
  const modules = selectModules(arch, settings.targetModules);
  if (options.adapter) checkAdapterTensors(options.adapterSource ?? 'adapter', options.adapter, modules, settings.rank);
  const baseVars: Record<string, tf.Variable> = {};
  const adapters: Record<string, tf.Variable> = {};
  const trainable = options.trainable ?? true;
  try {
    for (const p of arch.params) {
      const w = options.weights[p.name];
      if (!w || w.shape.join(',') !== p.shape.join(',')) {
        throw new ShapeError(
          'createHfLoraPolicy',
          w ? `weight '${p.name}' has shape [${w.shape}], the config needs [${p.shape}]` : `weight '${p.name}' (shape [${p.shape}]) is missing`,
        );
      }
      baseVars[p.name] = tf.tidy(() => tf.variable(tf.tensor(w.values, p.shape, 'float32'), false));
    }
    const r = settings.rank;
    for (const m of modules) {
      const { a, b } = adapterKeys(m.name);
      const given = options.adapter;
      const aValues = given ? given[a]!.values : initLoraA(m, r, settings.seed);
      const bValues = given ? given[b]!.values : new Float32Array(m.outFeatures * r);
      adapters[a] = tf.tidy(() => tf.variable(tf.tensor(aValues, [r, m.inFeatures], 'float32'), trainable));
      adapters[b] = tf.tidy(() => tf.variable(tf.tensor(bValues, [m.outFeatures, r], 'float32'), trainable));
    }
  } catch (e) {
    tf.dispose([...Object.values(baseVars), ...Object.values(adapters)]);
    throw e;
  }
  const lora: LoraInfo = {
    ...settings,
    scaling: loraScaling(settings),
    modules,
    adapterParameters: adapterParameterCount(modules, settings.rank),
  };
  return new LoraDecoderPolicy(arch, new SharedBase(baseVars), adapters, lora, options.tokenizer, options.meta, chunk, trainable);
}
