// LoRA (Hu et al. 2021) as PEFT computes it: a targeted linear layer y = W x + b becomes
// y + scaling · B A dropout(x), with A [r, in], B [out, r]. The forward pass finds adapters
// by name in the weight map (`<module>.lora_A.weight`), so the family files stay unchanged.
import * as tf from '@tensorflow/tfjs-core';
import { OptionsError, Rng, deriveSeed } from '@rftkit/core';
import type { Arch } from './arch';
import type { Weights } from './blocks';
import type { LoraSettings } from './lora-options';

/** One linear module LoRA can adapt. */
export interface LoraModule {
  /** Full module name, e.g. `model.layers.0.self_attn.q_proj` (PEFT's key). */
  name: string;
  /** Its HF weight tensor (`<name>.weight`). */
  weight: string;
  inFeatures: number;
  outFeatures: number;
  /** `linear`: nn.Linear, weight `[out, in]`; `conv1d`: GPT-2's Conv1D, weight `[in, out]` (PEFT's fan_in_fan_out). */
  layout: 'linear' | 'conv1d';
}

const GPT2_CONV = /^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

/** The linear modules of a model that can carry adapters (every nn.Linear / Conv1D but the LM head). */
export function linearModules(arch: Arch): LoraModule[] {
  const out: LoraModule[] = [];
  for (const p of arch.params) {
    if (p.shape.length !== 2 || p.name === 'lm_head.weight' || !p.name.endsWith('.weight')) continue;
    const name = p.name.slice(0, -'.weight'.length);
    if (p.linear) out.push({ name, weight: p.name, inFeatures: p.shape[1]!, outFeatures: p.shape[0]!, layout: 'linear' });
    else if (arch.cfg.modelType === 'gpt2' && GPT2_CONV.test(p.name)) {
      out.push({ name, weight: p.name, inFeatures: p.shape[0]!, outFeatures: p.shape[1]!, layout: 'conv1d' });
    }
  }
  return out;
}

/** PEFT's default target_modules per model type (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export function defaultTargetModules(modelType: string): string[] {
  return modelType === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj'];
}

const shortName = (name: string) => name.slice(name.lastIndexOf('.') + 1);

/**
 * The modules `targets` selects, with PEFT's rules: a list entry matches a module whose full
 * name is the entry or ends with `.entry`; a single string is a regex that must match the
 * whole name; 'all-linear' is every linear module but the LM head. Every list entry must
 * match something (a typo would otherwise leave a layer silently untrained).
 */
export function selectModules(arch: Arch, targets: string[] | string): LoraModule[] {
  const modules = linearModules(arch);
  const names = [...new Set(modules.map((m) => shortName(m.name)))];
  const listing = `the ${arch.cfg.modelType} model's linear modules: ${names.join(', ')}`;
  if (targets === 'all-linear') return modules;
  if (typeof targets === 'string') {
    const re = new RegExp(`^(?:${targets})$`);
    const hit = modules.filter((m) => re.test(m.name));
    if (!hit.length) {
      throw new OptionsError('lora', [
        { path: 'targetModules', message: `the regex '${targets}' matches no full module name (e.g. ${modules[0]?.name}); ${listing}` },
      ]);
    }
    return hit;
  }
  const matches = (m: LoraModule, t: string) => m.name === t || m.name.endsWith(`.${t}`);
  const unknown = targets.filter((t) => !modules.some((m) => matches(m, t)));
  if (unknown.length) {
    throw new OptionsError('lora', [
      { path: 'targetModules', message: `${unknown.map((t) => `'${t}'`).join(', ')} match${unknown.length === 1 ? 'es' : ''} no module; ${listing}` },
    ]);
  }
  return modules.filter((m) => targets.some((t) => matches(m, t)));
}

/** Names of a module's adapter tensors in the policy's weight map (PEFT's, less the `base_model.model.` prefix). */
export const adapterKeys = (module: string) => ({ a: `${module}.lora_A.weight`, b: `${module}.lora_B.weight` });

/** PEFT's saved tensor name of a weight-map adapter key. */
export const PEFT_PREFIX = 'base_model.model.';

/**
 * lora_A's init, as PEFT's `reset_lora_parameters` (init_lora_weights=True):
 * kaiming_uniform_(a=√5) on `[r, in]` is uniform(−1/√in, 1/√in). Seeded per module name, so
 * a module's draw does not depend on which others are targeted.
 */
export function initLoraA(module: LoraModule, rank: number, seed: number): Float32Array {
  const rng = new Rng(deriveSeed(seed, 'lora_A', module.name));
  const bound = 1 / Math.sqrt(module.inFeatures);
  const values = new Float32Array(rank * module.inFeatures);
  for (let i = 0; i < values.length; i++) values[i] = (2 * rng.float() - 1) * bound;
  return values;
}

/** What the forward pass needs to apply the adapters of a weight map. */
interface LoraRuntime {
  scaling: number;
  dropout: number;
  /** A fresh dropout seed per call (deterministic sequence). */
  nextSeed(): number;
}

const runtimes = new WeakMap<Weights, LoraRuntime>();

/** Marks `W` as carrying adapters applied with `runtime` (its lora tensors are under `adapterKeys`). */
export function attachLoraRuntime(W: Weights, runtime: LoraRuntime): void {
  runtimes.set(W, runtime);
}

/**
 * `y` (the base layer's output for `x [N, in]`) plus the module's low-rank update when `W`
 * holds an adapter for it; `y` unchanged otherwise. Dropout (PEFT applies it in train mode)
 * runs only while a gradient tape records, so rollouts and reference passes are exact.
 */
export function withAdapter(W: Weights, module: string, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
  const runtime = runtimes.get(W);
  if (!runtime) return y;
  const { a, b } = adapterKeys(module);
  const A = W[a];
  const B = W[b];
  if (!A || !B) return y;
  const input = runtime.dropout > 0 && tf.engine().isTapeOn() ? tf.dropout(x, runtime.dropout, undefined, runtime.nextSeed()) : x;
  const delta = tf.matMul(tf.matMul(input, A as tf.Tensor2D, false, true), B as tf.Tensor2D, false, true);
  return tf.add(y, tf.mul(delta, runtime.scaling));
}

/** The module's weight with its update merged, in the HF layout: W + s·B·A (Conv1D: W + s·(B·A)ᵀ). */
export function mergedWeight(module: LoraModule, weight: tf.Tensor, A: tf.Tensor, B: tf.Tensor, scaling: number): tf.Tensor {
  return tf.tidy(() => {
    const delta = tf.mul(tf.matMul(B as tf.Tensor2D, A as tf.Tensor2D), scaling);
    return tf.add(weight, module.layout === 'conv1d' ? tf.transpose(delta) : delta);
  });
}

/** Parameters the adapters add: Σ r·(in + out) over the targeted modules. */
export function adapterParameterCount(modules: readonly LoraModule[], rank: number): number {
  return modules.reduce((n, m) => n + rank * (m.inFeatures + m.outFeatures), 0);
}

export type { LoraSettings };
