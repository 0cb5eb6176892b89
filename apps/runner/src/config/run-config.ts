import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, type FieldIssue } from '@rftkit/core';
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
  checkComponentSpecifiers(modules, raw.allowPackageComponents === true, source);
  await registerUserComponents(registries, modules, baseDir);
  if (late.some((o) => o.path[0] === 'trainer' && o.path[1] === 'seed')) {
    throw new ConfigError('--set trainer.seed', [{ path: 'trainer.seed', message: 'set the run seed with --set seed=N' }]);
  }
  applyOverrides(raw, late, context);
  let config: ResolvedRunConfig;
  try {
    config = resolveRunConfig(raw, context);
  } catch (e) {
    throw e instanceof ConfigError && overrides.length > 0 ? blameOverrides(e, source, overrides) : e;
  }
  config.trainer.seed = config.seed;
  const issues: FieldIssue[] = [];
  const perStep = config.trainer.promptsPerStep;
  if (typeof perStep === 'number' && config.data.trainPrompts < perStep) {
    issues.push({
      path: 'data.trainPrompts',
      message: `${config.data.trainPrompts} is fewer than trainer.promptsPerStep (${perStep}); a step needs that many distinct prompts`,
    });
  }
  if ('checkpoint' in config.policy) {
    config.policy.checkpoint = resolve(baseDir, config.policy.checkpoint);
    if (!existsSync(config.policy.checkpoint)) {
      issues.push({ path: 'policy.checkpoint', message: `no such folder: ${config.policy.checkpoint} (relative paths resolve against the config file)` });
    }
  }
  if ('use' in config.policy && config.policy.use === 'hf') {
    const w = config.policy.with;
    if (!w.model.startsWith('hf:')) {
      w.model = resolve(baseDir, w.model);
      if (!existsSync(w.model)) {
        issues.push({ path: 'policy.with.model', message: `no model folder at ${w.model} (a folder with config.json, or hf:org/name; relative paths resolve against the config file)` });
      }
    }
    if (w.lora?.adapter !== undefined) {
      w.lora.adapter = resolve(baseDir, w.lora.adapter);
      if (!existsSync(w.lora.adapter)) {
        issues.push({ path: 'policy.with.lora.adapter', message: `no adapter folder at ${w.lora.adapter} (relative paths resolve against the config file)` });
      }
    }
  }
  // A task's data file, like every path in a config, is relative to the config file.
  const taskPath = config.task.with.path;
  if (typeof taskPath === 'string' && !isAbsolute(taskPath)) config.task.with.path = resolve(baseDir, taskPath);
  const testPath = config.task.with.testPath;
  if (typeof testPath === 'string' && !isAbsolute(testPath)) config.task.with.testPath = resolve(baseDir, testPath);
  if (issues.length > 0) throw new ConfigError(source, issues);
  config.components = config.components.map((m) => (isFilePath(m) ? resolve(baseDir, m) : m));
  return { config, registries, name: config.name ?? configName(source), baseDir, source };
}

const isFilePath = (specifier: string): boolean => specifier.startsWith('./') || specifier.startsWith('../') || isAbsolute(specifier);

/**
 * Component modules are code the run executes: only file paths are imported, unless the
 * config sets `allowPackageComponents: true` (then package names are allowed too). URLs
 * (`data:`, `file:`, `http:`) and `node:` built-ins are never imported.
 */
function checkComponentSpecifiers(modules: readonly string[], allowPackages: boolean, source: string): void {
  const issues: FieldIssue[] = [];
  modules.forEach((m, i) => {
    const path = m.split('#')[0] ?? '';
    if (isFilePath(path)) return;
    const scheme = /^[a-z][a-z0-9+.-]*:/i.test(path);
    if (!scheme && allowPackages) return;
    issues.push({
      path: `components[${i}]`,
      message: scheme
        ? `'${m}' is a URL or built-in module; components must be file paths (./mine.js, ../lib/mine.js)`
        : `'${m}' is a package name; components must be file paths (./mine.js), or set allowPackageComponents: true to import packages`,
    });
  });
  if (issues.length > 0) throw new ConfigError(source, issues);
}

/** Issues at a field a `--set` wrote are reported against that `--set`, not the file. */
function blameOverrides(error: ConfigError, source: string, overrides: readonly Override[]): ConfigError {
  const byPath = (path: string) =>
    [...overrides].reverse().find((o) => path === o.text || path.startsWith(`${o.text}.`) || path.startsWith(`${o.text}[`));
  const issues = error.issues.map((i) => {
    const o = byPath(i.path);
    return o ? { ...i, message: `${i.message} (from --set ${o.text}=${JSON.stringify(o.value)})` } : i;
  });
  const blamed = error.issues.map((i) => byPath(i.path)).filter((o) => o !== undefined);
  const names = [...new Set(blamed.map((o) => `--set ${o.text}=${JSON.stringify(o.value)}`))];
  return new ConfigError(names.length === error.issues.length || blamed.length === error.issues.length ? names.join(', ') : `${source} with ${names.join(', ') || 'its --set overrides'}`, issues);
}
