import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '@rftkit/core';
import { transformerOptionsSchema } from '@rftkit/policy';
import { trainerConfigSchema } from '@rftkit/trainer';
import type { z } from 'zod';
import { createRegistries, registerUserComponents } from '../registries';
import { configName, readConfigFile } from './load';
import { type Override, parseOverride } from './overrides';
import { applyOverrides, type RegistrySet, type ResolveContext, type ResolvedRunConfig, resolveRunConfig } from './resolve';

export interface LoadRunConfigOptions {
  /** `--set path=value` arguments, applied in order. */
  sets?: readonly string[];
  /** `--backend`, wins over the file. */
  backend?: string;
  /** Registries to use (default: every package's definitions). User components are added to them. */
  registries?: RegistrySet;
}

export interface LoadedRunConfig {
  config: ResolvedRunConfig;
  registries: RegistrySet;
  /** The run name: `name` in the config, else the file name. */
  name: string;
  /** The config file's folder: relative paths in the config resolve against it. */
  baseDir: string;
  source: string;
}

export function resolveContext(registries: RegistrySet, source: string): ResolveContext {
  return {
    registries,
    trainerSchema: trainerConfigSchema as unknown as z.ZodType,
    policySchema: transformerOptionsSchema as unknown as z.ZodType,
    source,
  };
}

/**
 * Reads, overrides and validates a run config before any work is done: the file,
 * every `--set`, every component id and option. Throws `ConfigError` naming each bad
 * field. Relative paths (policy checkpoint, component modules) are made absolute.
 */
export async function loadRunConfig(path: string, options: LoadRunConfigOptions = {}): Promise<LoadedRunConfig> {
  const raw = await readConfigFile(path);
  return loadRunConfigObject(raw, path, options);
}

/** As `loadRunConfig`, from an already parsed object; `source` names it and anchors relative paths. */
export async function loadRunConfigObject(
  raw: Record<string, unknown>,
  source: string,
  options: LoadRunConfigOptions = {},
): Promise<LoadedRunConfig> {
  const registries = options.registries ?? createRegistries();
  const baseDir = dirname(resolve(source));
  const context = resolveContext(registries, source);
  const overrides: Override[] = (options.sets ?? []).map(parseOverride);
  if (options.backend !== undefined) overrides.push(parseOverride(`backend=${options.backend}`));
  if (typeof raw.trainer === 'object' && raw.trainer !== null && 'seed' in raw.trainer) {
    throw new ConfigError(source, [{ path: 'trainer.seed', message: 'set the run seed with the top-level `seed` field' }]);
  }
  // Component modules first: ids and options of user components are checked like built-ins.
  const [early, late] = [overrides.filter((o) => o.path[0] === 'components'), overrides.filter((o) => o.path[0] !== 'components')];
  applyOverrides(raw, early, context);
  const modules = raw.components ?? [];
  if (!Array.isArray(modules) || !modules.every((m) => typeof m === 'string')) {
    throw new ConfigError(source, [{ path: 'components', message: 'expected a list of module paths, e.g. [./my-components.js]' }]);
  }
  await registerUserComponents(registries, modules, baseDir);
  if (late.some((o) => o.path[0] === 'trainer' && o.path[1] === 'seed')) {
    throw new ConfigError('--set trainer.seed', [{ path: 'trainer.seed', message: 'set the run seed with --set seed=N' }]);
  }
  applyOverrides(raw, late, context);
  const config = resolveRunConfig(raw, context);
  config.trainer.seed = config.seed;
  if ('checkpoint' in config.policy) config.policy.checkpoint = resolve(baseDir, config.policy.checkpoint);
  if ('use' in config.policy && config.policy.use === 'hf') {
    const w = config.policy.with;
    if (!w.model.startsWith('hf:')) {
      w.model = resolve(baseDir, w.model);
      if (!existsSync(w.model)) {
        throw new ConfigError(source, [{ path: 'policy.with.model', message: `no model folder at ${w.model} (a folder with config.json, or hf:org/name)` }]);
      }
    }
  }
  config.components = config.components.map((m) => (m.startsWith('.') ? resolve(baseDir, m) : m));
  return { config, registries, name: config.name ?? configName(source), baseDir, source };
}
