import {
  ConfigError,
  type AdvantageEstimator,
  type LossAggregator,
  type Policy,
  type PolicyLoss,
  type Regularizer,
  type RewardFunction,
  type Task,
} from '@rftkit/core';
import { createCharTokenizer, createTransformerPolicy, loadHfPolicy, loadPolicy } from '@rftkit/policy';
import type { ComponentRefConfig, PolicyConfig } from './config/schema';
import type { RegistrySet, ResolvedRunConfig } from './config/resolve';

/** The components a run config names, built. Tensors (policies) are owned by the caller. */
export interface Composition {
  task: Task;
  policy: Policy;
  /** Frozen copy of the initial policy (LoRA: the base, adapters off), when `reference: true` or a regularizer needs one. */
  reference?: Policy;
  reward: RewardFunction;
  advantage: AdvantageEstimator;
  loss: PolicyLoss;
  aggregation: LossAggregator;
  regularizers: Regularizer[];
}

export function createTask(registries: RegistrySet, ref: ComponentRefConfig): Task {
  // The jsonl task names its reward by id: resolve it in the run's reward registry, so a
  // reward from the config's `components` can score a dataset.
  if (ref.use === 'jsonl') return registries.task.create({ ...ref, with: { ...ref.with, registry: registries.reward } }) as Task;
  return registries.task.create(ref) as Task;
}

/**
 * Builds the policy a config names: a saved checkpoint, or a fresh transformer whose
 * character tokenizer covers the task's alphabet.
 */
export async function createPolicy(config: PolicyConfig, task: Task): Promise<Policy> {
  if ('checkpoint' in config) return loadPolicy(config.checkpoint);
  if (config.use === 'hf') return loadHfPolicy(config.with.model, config.with);
  const alphabet = task.alphabet?.();
  if (!alphabet) {
    throw new ConfigError('policy', [
      { path: 'policy', message: `task '${task.id}' declares no alphabet; start from a checkpoint instead` },
    ]);
  }
  return createTransformerPolicy({ ...(config.with as object), tokenizer: createCharTokenizer({ alphabet }) });
}

/**
 * The policy config with `download: true` when `--download` was given. Only an `hf` policy
 * downloads, so the flag on another policy is refused rather than ignored.
 */
export function applyDownloadFlag<P extends PolicyConfig>(policy: P, download: boolean | undefined): P {
  if (!download) return policy;
  if (!('use' in policy) || policy.use !== 'hf') {
    throw new ConfigError('--download', [
      { path: '--download', message: "fetches a Hugging Face model, so it needs policy: { use: hf, with: { model: 'hf:org/name' } }" },
    ]);
  }
  return { ...policy, with: { ...policy.with, download: true } };
}

/** The run's reward: the configured one, else the task's own verifier. */
export function createReward(registries: RegistrySet, ref: ComponentRefConfig | undefined, task: Task): RewardFunction {
  return ref ? (registries.reward.create(ref) as RewardFunction) : task.reward();
}

/**
 * A regularizer whose `target` names a sampler `{ use, with }` gets the sampler built from
 * the run's sampler registry, so samplers a config's `components` define can be targets too.
 */
function withSamplerTarget(ref: ComponentRefConfig, registries: RegistrySet): ComponentRefConfig {
  const target = (ref.with as Record<string, unknown> | undefined)?.target as { use?: unknown; with?: Record<string, unknown> } | undefined;
  if (!target || typeof target.use !== 'string' || !registries.sampler.has(target.use)) return ref;
  const sampler = registries.sampler.create({ use: target.use, with: target.with ?? {} });
  return { ...ref, with: { ...ref.with, target: sampler } };
}

/** Builds every component of a resolved run config (the backend must be selected first). */
export async function compose(config: ResolvedRunConfig, registries: RegistrySet): Promise<Composition> {
  const task = createTask(registries, config.task);
  const reward = createReward(registries, config.reward, task);
  const advantage = registries.advantage.create(config.advantage) as AdvantageEstimator;
  const loss = registries.loss.create(config.loss) as PolicyLoss;
  const aggregation = registries.aggregation.create(config.aggregation) as LossAggregator;
  const regularizers = config.regularizers.map((r) => registries.regularizer.create(withSamplerTarget(r, registries)) as Regularizer);
  const policy = await createPolicy(config.policy, task);
  const needsReference = config.reference || regularizers.some((r) => r.needsReference);
  // A LoRA policy's reference is its base with the adapters off (shared weights, no copy).
  const reference = needsReference ? (policy.referencePolicy?.() ?? policy.clone({ trainable: false })) : undefined;
  return { task, policy, reference, reward, advantage, loss, aggregation, regularizers };
}
