import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CheckpointError, ConfigError, type Policy, type SamplingParams } from '@rftkit/core';
import { selectBackend } from '@rftkit/tensor';
import { loadHfPolicy, loadPolicy } from '@rftkit/policy';
import type { PromptFormat } from '@rftkit/rollout';
import { trainerSamplingSchema } from '@rftkit/trainer';
import { createReward, createTask } from '../compose';
import type { RegistrySet } from '../config/resolve';
import type { ComponentRefConfig } from '../config/schema';
import { evaluatePolicy, type EvaluateResult } from '../evaluate';
import type { CliIO } from '../io';
import { createRegistries } from '../registries';

export interface EvalOptions {
  /** Task id (default: the run's or checkpoint's task). */
  task?: string;
  /** Samples per prompt (n). Default 16. */
  samples?: number;
  /** pass@k values. Default 1, 4, 16. */
  k?: number[];
  /** Test prompts. Default 100. */
  prompts?: number;
  seed?: number;
  backend?: string;
  /** wasm backend threads (1–4); default: RFTKIT_WASM_THREADS, else the cores. */
  threads?: number;
  /** Sampling temperature; 0 = greedy decoding (argmax). */
  temperature?: number;
  /** Print the result as one JSON object on stdout instead of the table. */
  json?: boolean;
  /** Fetch an `hf:` target missing from the Hub cache. */
  download?: boolean;
  registries?: RegistrySet;
}

interface Target {
  policyDir: string;
  /** A Hugging Face model (`hf:org/name[@rev]` or a folder with config.json) evaluated as it is. */
  hfModel?: string;
  task?: ComponentRefConfig;
  reward?: ComponentRefConfig;
  sampling?: Partial<SamplingParams>;
  seed?: number;
  /** The run's `rollout` section (chat template, system prompt). */
  promptFormat?: PromptFormat;
  describe: string;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new ConfigError(path, [{ path: '', message: `unreadable JSON (${(cause as Error).message})` }]);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(path, [{ path: '', message: 'expected a JSON object' }]);
  }
  return value as Record<string, unknown>;
}

/**
 * What `rft eval` was pointed at: a run folder (its latest checkpoint and config), a
 * trainer checkpoint `checkpoints/step-N`, or a policy folder (`policy.json`, e.g. an
 * `rft sft` output with its `sft.json`).
 */
export async function resolveEvalTarget(path: string): Promise<Target> {
  if (path.startsWith('hf:')) return { policyDir: '', hfModel: path, describe: `model ${path}` };
  const dir = resolve(path);
  const fromRunConfig = async (runDir: string) => {
    const file = join(runDir, 'config.json');
    if (!existsSync(file)) return {};
    const c = await readJson(file);
    const trainer = c.trainer as { eval?: { sampling?: Partial<SamplingParams> } } | undefined;
    return {
      task: c.task as ComponentRefConfig,
      reward: c.reward as ComponentRefConfig | undefined,
      sampling: trainer?.eval?.sampling,
      seed: c.seed as number,
      promptFormat: c.rollout as PromptFormat | undefined,
    };
  };
  if (existsSync(join(dir, 'checkpoints', 'latest'))) {
    const name = (await readFile(join(dir, 'checkpoints', 'latest'), 'utf8')).trim();
    return { policyDir: join(dir, 'checkpoints', name, 'policy'), ...(await fromRunConfig(dir)), describe: `run ${path} (${name})` };
  }
  if (existsSync(join(dir, 'policy', 'policy.json'))) {
    return { policyDir: join(dir, 'policy'), ...(await fromRunConfig(dirname(dirname(dir)))), describe: `checkpoint ${path}` };
  }
  if (existsSync(join(dir, 'policy.json'))) {
    const sftFile = join(dir, 'sft.json');
    const sft = existsSync(sftFile) ? await readJson(sftFile) : {};
    return { policyDir: dir, task: sft.task as ComponentRefConfig | undefined, describe: `policy ${path}` };
  }
  if (existsSync(join(dir, 'config.json')) && !existsSync(join(dir, 'checkpoints'))) {
    return { policyDir: '', hfModel: dir, describe: `model ${path}` };
  }
  throw new CheckpointError(
    dir,
    'not a run folder (checkpoints/latest), a trainer checkpoint (policy/), a policy folder (policy.json) or a Hugging Face model (config.json, or hf:org/name)',
  );
}

/** `rft eval`: pass@k and avg@n of a run's latest policy (or a checkpoint) on its task's test split. */
export async function runEval(path: string, options: EvalOptions, io: CliIO): Promise<EvaluateResult> {
  const target = await resolveEvalTarget(path);
  if (options.download && !target.hfModel?.startsWith('hf:')) {
    throw new ConfigError('rft eval', [{ path: '--download', message: `fetches a Hub model, so the target must be hf:org/name[@rev], got ${path}` }]);
  }
  const registries = options.registries ?? createRegistries();
  const taskRef: ComponentRefConfig | undefined =
    options.task !== undefined ? { use: options.task, with: target.task?.use === options.task ? target.task.with : {} } : target.task;
  if (!taskRef) {
    throw new ConfigError('rft eval', [
      { path: '--task', message: `${path} does not record its task; name one: ${registries.task.ids().join(', ')}` },
    ]);
  }
  if (!registries.task.has(taskRef.use)) {
    throw new ConfigError('rft eval', [
      { path: '--task', message: `unknown task '${taskRef.use}'; available: ${registries.task.ids().join(', ')}` },
    ]);
  }
  const samples = options.samples ?? 16;
  const k = options.k ?? [1, 4, 16];
  const promptCount = options.prompts ?? 100;
  const seed = options.seed ?? target.seed ?? 0;
  const recorded = trainerSamplingSchema.safeParse(target.sampling ?? {});
  if (!recorded.success) {
    throw new ConfigError(path, [{ path: 'trainer.eval.sampling', message: recorded.error.issues.map((i) => i.message).join('; ') }]);
  }
  // T = 0 decodes greedily (argmax), which the rollout engine supports directly.
  const sampling = { ...recorded.data, ...(options.temperature !== undefined ? { temperature: options.temperature } : {}) };
  const decoding = sampling.temperature === 0 ? 'greedy' : `T=${sampling.temperature}`;
  await selectBackend((options.backend ?? "auto") as "auto", { log: (m) => io.err(m), threads: options.threads });
  const task = createTask(registries, taskRef);
  const reward = createReward(registries, options.task !== undefined ? undefined : target.reward, task);
  const prompts = task.generate('test', promptCount, seed);
  let policy: Policy | undefined;
  try {
    policy = target.hfModel ? await loadHfPolicy(target.hfModel, { download: options.download ?? false }) : await loadPolicy(target.policyDir);
    io.err(`evaluating ${target.describe} on ${task.id} (test split): ${prompts.length} prompts × ${samples} samples, ${decoding}`);
    const result = await evaluatePolicy({
      policy,
      prompts,
      reward,
      samples,
      k,
      sampling,
      seed,
      promptFormat: target.promptFormat,
      onProgress: (done, total) => io.err(`  ${done}/${total} prompts`),
    });
    io.out(
      options.json
        ? JSON.stringify({ target: target.describe, task: task.id, decoding, sampling, seed, ...result })
        : `${formatEval(result)}\n(decoding: ${decoding})`,
    );
    return result;
  } finally {
    policy?.dispose();
  }
}

export function formatEval(result: EvaluateResult): string {
  const lines = Object.entries(result.passAtK).map(([k, v]) => `${k.padEnd(10)} ${(v * 100).toFixed(1)}%`);
  lines.push(`${`avg@${result.n}`.padEnd(10)} ${(result.avgAtN * 100).toFixed(1)}%`);
  return `${lines.join('\n')}\n(${result.prompts} prompts, n=${result.n} samples each)`;
}
