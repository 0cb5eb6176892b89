import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, Rng, writeFileAtomic } from '@rftkit/core';
import { selectBackend } from '@rftkit/tensor';
import { savePolicy, trainSft } from '@rftkit/policy';
import { applyDownloadFlag, createPolicy, createTask } from '../compose';
import { loadSftConfig, type SftConfig } from '../config/sft-config';
import { evaluatePolicy, type EvaluateResult } from '../evaluate';
import type { CliIO } from '../io';
import { formatDuration } from '../progress';
import { formatEval } from './eval';
import { displayPath } from './train';

export interface SftCommandOptions {
  sets?: string[];
  /** Fetch an `hf:` model missing from the Hub cache (sets policy.with.download). */
  download?: boolean;
  backend?: string;
  /** wasm backend threads (1–4); default: RFTKIT_WASM_THREADS, else the cores. */
  threads?: number;
  /** Overrides the config's `out`. */
  out?: string;
  /** Replace an existing policy folder at `out` (refused otherwise). */
  force?: boolean;
}

export interface SftResult {
  out: string;
  losses: number[];
  eval: EvaluateResult;
  config: SftConfig;
}

/**
 * `rft sft`: trains a base policy on the task's own solutions (drawn uniformly among the
 * valid ones, so the base stays diverse), saves it, and reports pass@k on the test split.
 * Writes the policy folder plus `sft.json` (config, task, losses, eval).
 */
export async function runSft(configPath: string, options: SftCommandOptions, io: CliIO): Promise<SftResult> {
  const { config, registries } = await loadSftConfig(configPath, { sets: options.sets, backend: options.backend });
  if (options.out) config.out = options.out;
  // The shipped base checkpoints are `rft sft` outputs: never replace a folder by accident.
  if (!options.force && existsSync(config.out) && readdirSync(config.out).length > 0) {
    throw new ConfigError(options.out ? '--out' : configPath, [
      {
        path: options.out ? '--out' : 'out',
        message: `${displayPath(config.out)} already exists; add --force to overwrite it, or choose another folder with --out`,
      },
    ]);
  }
  await selectBackend(config.backend, { log: (m) => io.err(m), threads: options.threads });
  const task = createTask(registries, config.task);
  if (!task.solve) {
    throw new ConfigError(configPath, [{ path: 'task.use', message: `task '${task.id}' has no solver, so it cannot make SFT data` }]);
  }
  const rng = new Rng(config.seed);
  const prompts = task.generate('train', config.data.prompts, config.seed);
  const examples: Array<{ prompt: string; completion: string }> = [];
  for (const p of prompts) {
    for (let i = 0; i < config.data.solutionsPerPrompt; i++) {
      const completion = task.solve(p, () => rng.float());
      if (completion !== undefined) examples.push({ prompt: p.prompt, completion });
    }
  }
  io.err(`sft: ${examples.length} examples from ${prompts.length} train prompts of ${task.id}`);
  if (examples.length === 0) {
    throw new ConfigError(configPath, [{ path: 'data.prompts', message: 'the solver found no solution for any prompt' }]);
  }
  const policy = await createPolicy(applyDownloadFlag(config.policy, options.download), task);
  try {
    const started = Date.now();
    const every = Math.max(1, Math.round(config.sft.steps / 20));
    let window: number[] = [];
    const { losses } = await trainSft({
      policy,
      examples,
      steps: config.sft.steps,
      examplesPerStep: config.sft.examplesPerStep,
      learningRate: config.sft.learningRate,
      seed: config.seed,
      onStep: ({ step, loss }) => {
        // trainSft counts steps from 0.
        const done = step + 1;
        window.push(loss);
        if (done % every === 0 || done === config.sft.steps) {
          const mean = window.reduce((a, b) => a + b, 0) / window.length;
          const elapsed = (Date.now() - started) / 1000;
          const eta = (elapsed / done) * (config.sft.steps - done);
          io.err(`sft step ${done}/${config.sft.steps} | loss ${mean.toFixed(4)} | eta ${formatDuration(eta)}`);
          window = [];
        }
      },
    });
    await savePolicy(config.out, policy);
    io.err(`saved ${displayPath(config.out)}`);
    const testPrompts = task.generate('test', config.eval.prompts, config.seed);
    const evalResult = await evaluatePolicy({
      policy,
      prompts: testPrompts,
      reward: task.reward(),
      samples: config.eval.samplesPerPrompt,
      k: config.eval.k,
      sampling: config.eval.sampling,
      seed: config.seed,
      // SFT trains on plain `[bos] prompt solution` sequences, so it is evaluated on plain prompts.
      promptFormat: { chatTemplate: false },
    });
    await writeFileAtomic(
      join(config.out, 'sft.json'),
      `${JSON.stringify(
        {
          task: config.task,
          // Paths are left out: they are machine-specific.
          config: { ...config, out: undefined },
          examples: examples.length,
          finalLoss: losses.length ? losses[losses.length - 1] : null,
          eval: { ...evalResult, correct: undefined, split: 'test', sampling: config.eval.sampling },
        },
        null,
        2,
      )}\n`,
    );
    io.out(formatEval(evalResult));
    io.out(`policy: ${displayPath(config.out)}`);
    return { out: config.out, losses, eval: evalResult, config };
  } finally {
    policy.dispose();
  }
}
