import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AdvantageEstimator,
  ConfigError,
  type LossAggregator,
  type Metrics,
  type Policy,
  type PolicyLoss,
  type PromptRecord,
  type Regularizer,
  type RewardFunction,
  type RolloutEngine,
  zodIssues,
} from '@rftkit/core';
import { loadPolicy, savePolicy } from '@rftkit/policy';
import { createRolloutEngine, type PromptFormat } from '@rftkit/rollout';
import { cleanInterruptedWrites, resolveLatest } from './checkpoint';
import { type TrainerConfig, type TrainerConfigInput, trainerConfigSchema } from './config';
import { appendJsonl, truncateJsonl } from './jsonl';
import { AdamOptimizer } from './optimizer';
import { pickSamples, SampleLog, type SampleRow } from './samples';
import { type PolicyStore, type RunProgress, restoreStage, saveCheckpointStage } from './stages/checkpoint';
import { evaluateStage } from './stages/evaluate';
import type { TrainerParts } from './stages/parts';
import { createScorer, type ScoringOptions } from './stages/score';
import { runStepStages } from './stages/step';

export interface EvalResult {
  /** Steps completed when the evaluation ran. */
  step: number;
  /** `eval/avg@N`, `eval/pass@K` for each K ≤ N, `eval/reward_mean`, `eval/response_len_mean`, `time/eval_s`. */
  metrics: Metrics;
}

export type TrainerEvent =
  | { type: 'step'; step: number; metrics: Metrics }
  | { type: 'eval'; step: number; metrics: Metrics }
  | { type: 'checkpoint'; step: number; path: string }
  /** Rows just appended to samples.jsonl (only with `outDir`). */
  | { type: 'samples'; step: number; split: SampleRow['split']; rows: SampleRow[] }
  | { type: 'log'; message: string };

export interface RunSummary {
  /** Steps completed. */
  steps: number;
  /** True when `requestStop()` ended the run early. */
  stopped: boolean;
  /** Metric rows of every completed step (including those before a resume). */
  history: Metrics[];
  /** Evaluation rows, in order. */
  evals: Metrics[];
  lastMetrics?: Metrics;
  lastEval?: Metrics;
  /** The last checkpoint written, when `outDir` is set. */
  checkpoint?: string;
}

export interface TrainerOptions {
  policy: Policy;
  /** Frozen reference policy (KL terms). When absent and a regularizer needs one: `policy.referencePolicy()` (LoRA: the base, adapters off) or a frozen copy of `policy`. */
  reference?: Policy;
  /** Rollout engine over `policy` (default `createRolloutEngine({ policy })`). */
  engine?: RolloutEngine;
  /** Engine over `reference` (default `createRolloutEngine({ policy: reference })` when there is a reference). */
  referenceEngine?: RolloutEngine;
  /** How the default engines turn prompts into token ids (chat template, system prompt); see `PromptFormat`. */
  promptFormat?: PromptFormat;
  trainPrompts: PromptRecord[];
  testPrompts?: PromptRecord[];
  reward: RewardFunction;
  advantage: AdvantageEstimator;
  loss: PolicyLoss;
  aggregator: LossAggregator;
  regularizers?: Regularizer[];
  config?: TrainerConfigInput;
  /** Run folder: metrics.jsonl, eval.jsonl, samples.jsonl, checkpoints/. Nothing is written without it. */
  outDir?: string;
  onEvent?: (event: TrainerEvent) => void;
  /** Restore before the first step: `'latest'` (outDir/checkpoints/latest) or a checkpoint folder. */
  resumeFrom?: 'latest' | string;
  /** How the policy is saved/restored in checkpoints (default `savePolicy` / `loadPolicy` of @rftkit/policy). */
  policyIO?: PolicyStore;
  /** Overrides `config.scoring` (reward timeout, score on error, all-failed steps that stop the run). */
  scoring?: ScoringOptions;
}

export interface TrainerState {
  /** Steps completed. */
  readonly step: number;
  readonly config: TrainerConfig;
  readonly history: readonly Metrics[];
  readonly evals: readonly Metrics[];
}

export interface Trainer {
  /** Runs steps until `config.steps` (or `requestStop()`), with evaluation and checkpoints. */
  run(): Promise<RunSummary>;
  /** Runs one step and returns its metrics row. */
  step(): Promise<Metrics>;
  /** Evaluates on the test prompts (does not write files). */
  evaluate(): Promise<EvalResult>;
  /** Writes a checkpoint of the current state; returns its folder. Requires `outDir`. */
  saveCheckpoint(): Promise<string>;
  /** The run finishes its current step, saves a checkpoint and resolves. */
  requestStop(): void;
  /** Prepares the run folder and restores `resumeFrom`; other methods call it on first use. */
  ready(): Promise<void>;
  readonly state: TrainerState;
  readonly config: TrainerConfig;
  /** Frees the optimizer state and any reference copy the trainer made (not the policy). */
  dispose(): void;
}

const defaultPolicyIO: PolicyStore = {
  save: (dir, policy) => savePolicy(dir, policy),
  async load(dir, policy) {
    const loaded = await loadPolicy(dir);
    try {
      policy.setWeights(loaded.getWeights());
    } finally {
      loaded.dispose();
    }
  },
};

/** Validates a trainer config, filling documented defaults. Throws `ConfigError` naming each bad field. */
export function parseTrainerConfig(input: unknown, source = 'trainer config'): TrainerConfig {
  const result = trainerConfigSchema.safeParse(input ?? {});
  if (!result.success) throw new ConfigError(source, zodIssues(result.error, '', trainerConfigSchema));
  return result.data;
}

/** Checks the options and builds the parts every stage reads. */
function buildParts(options: TrainerOptions, log: (message: string) => void): TrainerParts & { ownsReference: boolean } {
  const config = parseTrainerConfig(options.config ?? {});
  const { policy } = options;
  const regularizers = options.regularizers ?? [];
  if (!options.trainPrompts.length) {
    throw new ConfigError('trainer options', [{ path: 'trainPrompts', message: 'at least one prompt is required' }]);
  }
  const ids = new Set<string>();
  for (const r of regularizers) {
    if (ids.has(r.id)) throw new ConfigError('trainer options', [{ path: 'regularizers', message: `regularizer '${r.id}' appears twice` }]);
    ids.add(r.id);
  }
  const needsReference = regularizers.some((r) => r.needsReference);
  const reference = options.reference ?? (needsReference ? (policy.referencePolicy?.() ?? policy.clone({ trainable: false })) : undefined);
  return {
    config,
    policy,
    reference,
    ownsReference: !options.reference && needsReference,
    engine: options.engine ?? createRolloutEngine({ policy, promptFormat: options.promptFormat }),
    referenceEngine: options.referenceEngine ?? (reference ? createRolloutEngine({ policy: reference, promptFormat: options.promptFormat }) : undefined),
    reward: options.reward,
    advantage: options.advantage,
    loss: options.loss,
    aggregator: options.aggregator,
    regularizers,
    optimizer: new AdamOptimizer(policy.trainableVariables(), config.optimizer),
    trainPrompts: options.trainPrompts,
    testPrompts: options.testPrompts ?? [],
    scorer: createScorer(options.reward, { ...config.scoring, ...options.scoring }, log),
    evalScorer: createScorer(options.reward, { ...config.scoring, ...options.scoring, maxFailedSteps: 0 }, log, 'eval/reward_'),
    log,
  };
}

/**
 * Composes a policy, rollout engine, reward, advantage estimator, policy loss, loss
 * aggregation and regularizers into a training run (see DESIGN.md "One training step";
 * the stages of a step are in stages/step.ts). Every random draw of step s derives from
 * (config.seed, label, s), so a resumed run reproduces an uninterrupted one.
 */
export function createTrainer(options: TrainerOptions): Trainer {
  const { outDir, onEvent } = options;
  const emit = (e: TrainerEvent) => onEvent?.(e);
  const log = (message: string) => emit({ type: 'log', message });
  const parts = buildParts(options, log);
  const { config } = parts;
  const policyIO = options.policyIO ?? defaultPolicyIO;
  const checkpointsDir = outDir ? join(outDir, 'checkpoints') : undefined;
  const file = (name: string) => join(outDir!, name);
  const samples = outDir ? new SampleLog(file('samples.jsonl'), config.samples.maxBytes, log) : undefined;

  const progress: RunProgress = { step: 0, history: [], evals: [] };
  let stopRequested = false;
  let lastCheckpoint: string | undefined;
  let lastCheckpointStep = -1;
  let ready: Promise<void> | undefined;

  async function restore(dir: string): Promise<void> {
    const restored = await restoreStage(parts, policyIO, dir);
    progress.step = restored.step;
    progress.history.splice(0, progress.history.length, ...restored.history);
    progress.evals.splice(0, progress.evals.length, ...restored.evals);
    lastCheckpoint = dir;
    lastCheckpointStep = progress.step;
    if (outDir) {
      await truncateJsonl(file('metrics.jsonl'), progress.step);
      // Evaluation rows the checkpoint does not hold (an evaluation after it, or one that
      // an older trainer ran after its final checkpoint) are redone by `run`.
      const lastEval = progress.evals.at(-1)?.step ?? -1;
      await truncateJsonl(file('eval.jsonl'), lastEval);
      await samples!.truncate(progress.step, lastEval);
    }
    log(`resumed from ${dir} at step ${progress.step}`);
  }

  function ensureReady(): Promise<void> {
    ready ??= (async () => {
      if (outDir) await mkdir(outDir, { recursive: true });
      if (checkpointsDir) {
        for (const name of await cleanInterruptedWrites(checkpointsDir)) log(`removed ${name}, left by an interrupted checkpoint write`);
      }
      if (options.resumeFrom) {
        if (!checkpointsDir && options.resumeFrom === 'latest') {
          throw new ConfigError('trainer options', [{ path: 'resumeFrom', message: "'latest' needs outDir" }]);
        }
        const dir = options.resumeFrom === 'latest' ? await resolveLatest(checkpointsDir!) : options.resumeFrom;
        await restore(dir);
      } else if (outDir) {
        // A fresh run starts fresh logs.
        await truncateJsonl(file('metrics.jsonl'), -1);
        await truncateJsonl(file('eval.jsonl'), -1);
        await samples!.truncate(-1, -1);
      }
    })();
    return ready;
  }

  async function step(): Promise<Metrics> {
    await ensureReady();
    const s = progress.step + 1;
    const every = config.samplesEvery;
    let picked: SampleRow[] = [];
    const metrics = await runStepStages(parts, s, (batch) => {
      if (samples && every > 0 && s % every === 0) picked = pickSamples(batch, s, 'train', config.samples.perStep);
    });
    progress.step = s;
    progress.history.push(metrics);
    if (outDir) await appendJsonl(file('metrics.jsonl'), metrics);
    emit({ type: 'step', step: s, metrics });
    await recordSamples(s, 'train', picked);
    return metrics;
  }

  async function evaluate(): Promise<EvalResult> {
    await ensureReady();
    const at = progress.step;
    return { step: at, metrics: await evaluateStage(parts, at) };
  }

  async function recordSamples(at: number, split: SampleRow['split'], rows: SampleRow[]): Promise<void> {
    if (!samples || rows.length === 0) return;
    const written = await samples.append(rows);
    if (written.length > 0) emit({ type: 'samples', step: at, split, rows: written });
  }

  async function evaluateAndRecord(): Promise<Metrics> {
    await ensureReady();
    const at = progress.step;
    const picked: SampleRow[] = [];
    const ends = config.eval.atEnds;
    const size = ends && (at === 0 || at === config.steps) ? ends : config.eval;
    const metrics = await evaluateStage(
      parts,
      at,
      (batch, offset) => {
        if (samples) picked.push(...pickSamples(batch, at, 'eval', config.samples.perEval, offset));
      },
      size,
    );
    const row = { step: at, ...metrics };
    progress.evals.push(row);
    if (outDir) await appendJsonl(file('eval.jsonl'), row);
    emit({ type: 'eval', step: at, metrics });
    await recordSamples(at, 'eval', picked);
    return row;
  }

  async function saveCheckpoint(): Promise<string> {
    await ensureReady();
    if (!checkpointsDir) throw new ConfigError('trainer options', [{ path: 'outDir', message: 'required to save checkpoints' }]);
    const dir = await saveCheckpointStage(parts, policyIO, checkpointsDir, progress);
    lastCheckpoint = dir;
    lastCheckpointStep = progress.step;
    emit({ type: 'checkpoint', step: progress.step, path: dir });
    return dir;
  }

  /**
   * The run schedule: the evaluation due at the start (step 0, or one a resumed checkpoint
   * lacks), then per step: step → evaluation when due (every `eval.every` steps and at the
   * last) → checkpoint when due (every `checkpointEvery` steps and at the last). The
   * evaluation comes first so the checkpoint holds its row: a run killed during it redoes
   * it from the previous checkpoint, and a finished run resumed has nothing left to do.
   */
  async function run(): Promise<RunSummary> {
    await ensureReady();
    const evalOn = config.eval.every > 0 && parts.testPrompts.length > 0;
    const { evals, history } = progress;
    const evaluatedAt = () => (evals.length ? (evals[evals.length - 1]!.step as number) : -1);
    const evalDue = (at: number) => evalOn && (at % config.eval.every === 0 || at === config.steps);
    if (progress.step < config.steps && evalDue(progress.step) && evaluatedAt() !== progress.step) await evaluateAndRecord();
    let stopped = false;
    while (progress.step < config.steps) {
      if (stopRequested) {
        stopped = true;
        break;
      }
      await step();
      const at = progress.step;
      const last = at === config.steps;
      if (evalDue(at)) await evaluateAndRecord();
      if (outDir && ((config.checkpointEvery > 0 && at % config.checkpointEvery === 0) || last)) await saveCheckpoint();
      if (stopRequested && !last) {
        stopped = true;
        break;
      }
    }
    // A stopped run saves where it stopped; a run resumed at its end (or with 0 steps)
    // evaluates if the checkpoint lacks the final evaluation, and saves it.
    let unsaved = lastCheckpointStep !== progress.step;
    if (!stopped && evalOn && evaluatedAt() !== progress.step) {
      await evaluateAndRecord();
      unsaved = true;
    }
    if (outDir && unsaved) await saveCheckpoint();
    stopRequested = false;
    return {
      steps: progress.step,
      stopped,
      history: [...history],
      evals: [...evals],
      lastMetrics: history[history.length - 1],
      lastEval: evals[evals.length - 1],
      checkpoint: lastCheckpoint,
    };
  }

  return {
    run,
    step,
    evaluate,
    saveCheckpoint,
    ready: ensureReady,
    requestStop: () => {
      stopRequested = true;
    },
    get state(): TrainerState {
      return { step: progress.step, config, history: progress.history, evals: progress.evals };
    },
    config,
    dispose() {
      parts.optimizer.dispose();
      if (parts.ownsReference) parts.reference?.dispose();
    },
  };
}

/** Creates a trainer and restores it from `outDir/checkpoints/latest` (or `from`). */
export async function resumeTrainer(options: TrainerOptions & { from?: string }): Promise<Trainer> {
  const trainer = createTrainer({ ...options, resumeFrom: options.from ?? options.resumeFrom ?? 'latest' });
  await trainer.ready();
  return trainer;
}
