import { advantageDefinitions } from '@rftkit/advantages';
import { type ComponentDefinition, ConfigError, loadComponentModule, Registry } from '@rftkit/core';
import { aggregationDefinitions, klDefinitions, policyLossDefinitions } from '@rftkit/losses';
import { regularizerDefinitions } from '@rftkit/regularizers';
import { rewardDefinitions } from '@rftkit/rewards';
import { samplerDefinitions } from '@rftkit/rollout';
import { taskDefinitions } from '@rftkit/tasks';
import type { RegistrySet } from './config/resolve';

/** Families shown by `rft list`, in order, with a heading. */
export const FAMILY_TITLES: Record<keyof RegistrySet, string> = {
  task: 'Tasks (task)',
  reward: 'Rewards (reward)',
  advantage: 'Advantage estimators (advantage)',
  loss: 'Policy losses (loss)',
  aggregation: 'Loss aggregations (aggregation)',
  kl: 'KL estimators (kl)',
  regularizer: 'Regularizers (regularizer)',
  sampler: 'Samplers, targets of REINFORCE regularizers (sampler)',
};

/**
 * The composition root: one registry per family, built explicitly from every package's
 * definitions. Nothing registers itself on import, so this list is what a run can use.
 */
export function createRegistries(): RegistrySet {
  return {
    task: new Registry('task', taskDefinitions),
    reward: new Registry('reward', rewardDefinitions),
    advantage: new Registry('advantage', advantageDefinitions),
    loss: new Registry('loss', policyLossDefinitions),
    aggregation: new Registry('aggregation', aggregationDefinitions),
    kl: new Registry('kl', klDefinitions),
    regularizer: new Registry('regularizer', regularizerDefinitions),
    sampler: new Registry('sampler', samplerDefinitions),
  };
}

/**
 * Loads the config's `components` modules and registers each exported definition in
 * its family's registry. Paths are relative to `baseDir` (the config file's folder).
 */
export async function registerUserComponents(
  registries: RegistrySet,
  modules: readonly string[],
  baseDir: string,
): Promise<ComponentDefinition[]> {
  const loaded: ComponentDefinition[] = [];
  // Which module defined each user id, so a clash names both sides.
  const origin = new Map<string, string>();
  for (const [i, specifier] of modules.entries()) {
    for (const def of await loadComponentModule(specifier, { baseDir })) {
      const registry = (registries as unknown as Record<string, Registry | undefined>)[def.family];
      if (!registry) {
        throw new ConfigError('components', [
          {
            path: `components[${i}]`,
            message: `'${def.id}' is a '${def.family}' component; a config can use: ${Object.keys(registries).join(', ')}`,
          },
        ]);
      }
      if (registry.has(def.id)) {
        const first = origin.get(`${def.family}:${def.id}`);
        const clash = first === undefined ? 'a built-in component' : first === specifier ? 'another export of the same module' : `module '${first}'`;
        throw new ConfigError('components', [
          {
            path: `components[${i}]`,
            message: `module '${specifier}' defines ${def.family} '${def.id}', which ${clash} already defines; rename one of them`,
          },
        ]);
      }
      registry.register(def);
      origin.set(`${def.family}:${def.id}`, specifier);
      loaded.push(def);
    }
  }
  return loaded;
}
