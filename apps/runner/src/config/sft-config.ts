import { ConfigError, type FieldIssue } from '@rftkit/core';
import { transformerOptionsSchema } from '@rftkit/policy';
import { trainerSamplingSchema } from '@rftkit/trainer';
import { z } from 'zod';
import { createRegistries } from '../registries';
import { configName, readConfigFile } from './load';
import { parseOverride } from './overrides';
import { describeIssues, type RegistrySet, resolveComponent, resolveOptions, type ZodIssueLike } from './resolve';
import { componentRefSchema, policyConfigSchema } from './schema';
import { dirname, resolve } from 'node:path';
import { setAtPath } from './overrides';
import { schemaAt, formatPath } from './schema-walk';

/** `rft sft` config: supervised training of a base policy on the task's own solutions. */
export const sftConfigSchema = z.strictObject({
  name: z.string().optional(),
  seed: z.number().int().min(0).max(0xffffffff).default(0).describe('Seed of data, solutions, batches and eval.'),
  backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  task: componentRefSchema,
  policy: policyConfigSchema.describe('A fresh transformer, or a checkpoint to continue from.'),
  data: z
    .strictObject({
      prompts: z.number().int().positive().default(2000).describe('Train-split prompts to solve.'),
      solutionsPerPrompt: z
        .number()
        .int()
        .positive()
        .default(1)
        .describe('Solutions drawn per prompt (uniform among valid ones, so the base stays diverse).'),
    })
    .prefault({}),
  sft: z
    .strictObject({
      steps: z.number().int().min(0).default(1000),
      examplesPerStep: z.number().int().positive().default(32),
      learningRate: z.number().positive().default(3e-3),
    })
    .prefault({}),
  eval: z
    .strictObject({
      prompts: z.number().int().positive().default(100).describe('Test-split prompts.'),
      samplesPerPrompt: z.number().int().positive().default(16).describe('n of pass@k.'),
      k: z.array(z.number().int().positive()).default([1, 4, 16]),
      sampling: trainerSamplingSchema.prefault({}),
    })
    .prefault({}),
  out: z.string().min(1).describe('Where the checkpoint is written, relative to the config file.'),
});

export type SftConfig = z.output<typeof sftConfigSchema>;

export interface LoadedSftConfig {
  config: SftConfig;
  registries: RegistrySet;
  name: string;
  source: string;
}

/** Reads and validates an `rft sft` config (with `--set` overrides); paths made absolute. */
export async function loadSftConfig(
  path: string,
  options: { sets?: readonly string[]; backend?: string; registries?: RegistrySet } = {},
): Promise<LoadedSftConfig> {
  const raw = await readConfigFile(path);
  const registries = options.registries ?? createRegistries();
  const overrides = (options.sets ?? []).map(parseOverride);
  if (options.backend !== undefined) overrides.push(parseOverride(`backend=${options.backend}`));
  for (const o of overrides) {
    const inWith = o.path.indexOf('with');
    const walked = schemaAt(sftConfigSchema, inWith > 0 ? o.path.slice(0, inWith + 1) : o.path);
    if (!walked.ok) {
      throw new ConfigError(`--set ${o.text}`, [
        { path: o.text, message: `no such field; allowed at '${formatPath(o.path.slice(0, walked.at)) || '(root)'}': ${walked.allowed.join(', ')}` },
      ]);
    }
    setAtPath(raw, o.path, o.value);
  }
  const parsed = sftConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(path, describeIssues(parsed.error.issues as unknown as ZodIssueLike[], sftConfigSchema, [], raw));
  }
  const config = parsed.data;
  const issues: FieldIssue[] = [];
  const taskOptions = resolveComponent(config.task, registries.task, ['task'], issues);
  if (taskOptions) config.task.with = taskOptions;
  if ('use' in config.policy) {
    const o = resolveOptions(transformerOptionsSchema as unknown as z.ZodType, config.policy.with, ['policy', 'with'], "policy 'transformer'", issues);
    if (o) config.policy.with = o;
  }
  if (issues.length > 0) throw new ConfigError(path, issues);
  const baseDir = dirname(resolve(path));
  config.out = resolve(baseDir, config.out);
  if ('checkpoint' in config.policy) config.policy.checkpoint = resolve(baseDir, config.policy.checkpoint);
  return { config, registries, name: config.name ?? configName(path), source: path };
}
