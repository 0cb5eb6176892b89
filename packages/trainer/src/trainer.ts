import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AdvantageEstimator,
  type AugmentContext,
  ConfigError,
  CheckpointError,
  type LossAggregator,
  type Metrics,
  type Policy,
  type PolicyLoss,
  type PromptRecord,
  type Regularizer,
  type RewardFunction,
  type RolloutBatch,
  type RolloutEngine,
  Rng,
  RftError,
  type ScoredBatch,
  StateError,
  type StepInfo,
  type TrainBatch,
  responseLengths,
  zodIssues,
} from '@rftkit/core';
import { loadPolicy, savePolicy } from '@rftkit/policy';
import { scoreBatch } from '@rftkit/rewards';
import { createRolloutEngine } from '@rftkit/rollout';
import {
  checkpointName,
  CHECKPOINT_FORMAT,
  pruneCheckpoints,
  readOptimizerState,
  readTrainerState,
  resolveLatest,
  type TrainerCheckpointState,
  writeCheckpoint,
  writeLatest,
} from './checkpoint';
import { type TrainerConfig, type TrainerConfigInput, trainerConfigSchema } from './config';
import { appendJsonl, truncateJsonl } from './jsonl';
import { AdamOptimizer, learningRate } from './optimizer';
import { passAtK } from './pass-at-k';
import { hostTokenStats } from './token-stats';
import { runUpdate } from './update';

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
  /** Frozen reference policy (KL terms). When absent and a regularizer needs one, a frozen copy of `policy` is made. */
  reference?: Policy;
  /** Rollout engine over `policy` (default `createRolloutEngine({ policy })`). */
  engine?: RolloutEngine;
  /** Engine over `reference` (default `createRolloutEngine({ policy: reference })` when there is a reference). */
  referenceEngine?: RolloutEngine;
  trainPrompts: PromptRecord[];
  testPrompts?: PromptRecord[];
  reward: RewardFunction;
  advantage: AdvantageEstimator;
  loss: PolicyLoss;
  aggregator: LossAggregator;
  regularizers?: Regularizer[];
  config?: TrainerConfigInput;
  /** Run folder: metrics.jsonl, eval.jsonl, checkpoints/. Nothing is written without it. */
  outDir?: string;
  onEvent?: (event: TrainerEvent) => void;
  /** Restore before the first step: `'latest'` (outDir/checkpoints/latest) or a checkpoint folder. */
  resumeFrom?: 'latest' | string;
  /** How the policy is saved/restored in checkpoints (default `savePolicy` / `loadPolicy` of @rftkit/policy). */
  policyIO?: { save(dir: string, policy: Policy): Promise<void>; load(dir: string, policy: Policy): Promise<void> };
  /** Options passed to `scoreBatch` (reward timeout, score on error). */
  scoring?: { timeoutMs?: number; errorScore?: number };
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

const defaultPolicyIO: NonNullable<TrainerOptions['policyIO']> = {
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
  if (!result.success) throw new ConfigError(source, zodIssues(result.error));
  return result.data;
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (Number.isNaN(x)) continue;
    s += x;
    n++;
  }
  return n ? s / n : 0;
}

function std(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i]! - m) ** 2;
  return xs.length ? Math.sqrt(s / xs.length) : 0;
}

/** Rollout metrics of the main batch (before regularizers add rows). */
function rolloutMetrics(batch: ScoredBatch, seconds: number): Metrics {
  const lens = responseLengths(batch);
  const groups = new Map<number, number[]>();
  for (let r = 0; r < batch.rows; r++) {
    const g = batch.groupIds[r]!;
    groups.set(g, [...(groups.get(g) ?? []), batch.scores[r]!]);
  }
  let zero = 0;
  for (const xs of groups.values()) if (std(xs) < 1e-6) zero++;
  const tokens = lens.reduce((a, b) => a + b, 0);
  const m: Metrics = {
    'reward/mean': mean(batch.scores),
    'reward/std': std(batch.scores),
  };
  for (const [name, values] of Object.entries(batch.rewardComponents)) m[`reward/${name}`] = mean(values);
  return {
    ...m,
    'response/len_mean': mean(lens),
    'response/len_max': lens.length ? Math.max(...lens) : 0,
    'response/truncated_frac': batch.finishReason.filter((f) => f === 'length').length / Math.max(batch.rows, 1),
    'groups/zero_std_frac': groups.size ? zero / groups.size : 0,
    'rollout/tokens_per_s': seconds > 0 ? tokens / seconds : 0,
  };
}

/** Draws the step's prompts: a seeded permutation per step (cycled when more are needed than exist). */
export function drawPrompts(prompts: readonly PromptRecord[], count: number, seed: number, step: number): PromptRecord[] {
  const rng = Rng.derive(seed, 'prompts', step);
  const out: PromptRecord[] = [];
  while (out.length < count) {
    const order = rng.shuffle(Array.from({ length: prompts.length }, (_, i) => i));
    for (const i of order.slice(0, count - out.length)) out.push(prompts[i]!);
  }
  return out;
}

const now = () => performance.now() / 1000;

/**
 * Composes a policy, rollout engine, reward, advantage estimator, policy loss, loss
 * aggregation and regularizers into a training run (see DESIGN.md "One training step").
 * Every random draw of step s derives from (config.seed, label, s), so a resumed run
 * reproduces an uninterrupted one.
 */
export function createTrainer(options: TrainerOptions): Trainer {
  const config = parseTrainerConfig(options.config ?? {});
  const { policy, reward, advantage, loss, aggregator, outDir, onEvent } = options;
  const regularizers = options.regularizers ?? [];
  const trainPrompts = options.trainPrompts;
  const testPrompts = options.testPrompts ?? [];
  if (!trainPrompts.length) throw new ConfigError('trainer options', [{ path: 'trainPrompts', message: 'at least one prompt is required' }]);
  const ids = new Set<string>();
  for (const r of regularizers) {
    if (ids.has(r.id)) throw new ConfigError('trainer options', [{ path: 'regularizers', message: `regularizer '${r.id}' appears twice` }]);
    ids.add(r.id);
  }

  const needsReference = regularizers.some((r) => r.needsReference);
  const ownsReference = !options.reference && needsReference;
  const reference = options.reference ?? (needsReference ? policy.clone({ trainable: false }) : undefined);
  const engine = options.engine ?? createRolloutEngine({ policy });
  const referenceEngine = options.referenceEngine ?? (reference ? createRolloutEngine({ policy: reference }) : undefined);
  const optimizer = new AdamOptimizer(policy.trainableVariables(), config.optimizer);
  const policyIO = options.policyIO ?? defaultPolicyIO;

  let step = 0;
  const history: Metrics[] = [];
  const evals: Metrics[] = [];
  let stopRequested = false;
  let lastCheckpoint: string | undefined;
  let lastCheckpointStep = -1;
  let ready: Promise<void> | undefined;

  const emit = (e: TrainerEvent) => onEvent?.(e);
  const log = (message: string) => emit({ type: 'log', message });
  const checkpointsDir = outDir ? join(outDir, 'checkpoints') : undefined;
  const file = (name: string) => join(outDir!, name);
  const score = (batch: RolloutBatch) => scoreBatch(reward, batch, { ...options.scoring, onWarning: log });

  async function restore(dir: string): Promise<void> {
    const state = await readTrainerState(dir);
    if (state.seed !== config.seed) {
      throw new CheckpointError(join(dir, 'trainer-state.json'), `was written with seed ${state.seed}, the config has seed ${config.seed}`);
    }
    try {
      await policyIO.load(join(dir, 'policy'), policy);
    } catch (cause) {
      if (cause instanceof RftError) throw cause;
      throw new CheckpointError(join(dir, 'policy'), `cannot load the policy (${(cause as Error).message})`, { cause });
    }
    const opt = await readOptimizerState(dir);
    try {
      optimizer.loadState(opt);
    } catch (cause) {
      throw new CheckpointError(join(dir, 'optimizer.json'), (cause as Error).message, { cause });
    }
    regularizers.forEach((reg, i) => {
      const saved = state.regularizers[i];
      if (!saved || saved.id !== reg.id) {
        throw new CheckpointError(
          join(dir, 'trainer-state.json'),
          `regularizer ${i} is '${reg.id}' but the checkpoint has '${saved?.id ?? '(none)'}'; resume with the same composition`,
        );
      }
      if (saved.state !== null && reg.loadState) {
        try {
          reg.loadState(saved.state);
        } catch (cause) {
          if (cause instanceof RftError) throw cause;
          throw new StateError(reg.id, (cause as Error).message);
        }
      }
    });
    step = state.step;
    history.splice(0, history.length, ...state.history);
    evals.splice(0, evals.length, ...state.evals);
    lastCheckpoint = dir;
    lastCheckpointStep = step;
    if (outDir) {
      await truncateJsonl(file('metrics.jsonl'), step);
      await truncateJsonl(file('eval.jsonl'), step);
    }
    log(`resumed from ${dir} at step ${step}`);
  }

  function ensureReady(): Promise<void> {
    ready ??= (async () => {
      if (outDir) await mkdir(outDir, { recursive: true });
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
      }
    })();
    return ready;
  }

  async function runStep(): Promise<Metrics> {
    await ensureReady();
    const s = step + 1;
    const info: StepInfo = { step: s, seed: config.seed };
    const tStep = now();
    const prompts = drawPrompts(trainPrompts, config.promptsPerStep, config.seed, s);
    for (const reg of regularizers) await reg.beforeRollout?.(info);

    const tRollout = now();
    const rollout = await engine.generate({
      prompts,
      samplesPerPrompt: config.samplesPerPrompt,
      sampling: config.sampling,
      seed: config.seed,
      step: s,
      stream: 'main',
    });
    const rolloutSeconds = now() - tRollout;
    const scored = await score(rollout);
    const adv = advantage.compute({
      rows: scored.rows,
      seqLen: scored.seqLen,
      scores: scored.scores,
      groupIds: scored.groupIds,
      responseMask: scored.responseMask,
    });
    let batch: TrainBatch = { ...scored, advantages: adv.advantages };
    const context: AugmentContext = {
      ...info,
      engine,
      referenceEngine,
      prompts,
      samplesPerPrompt: config.samplesPerPrompt,
      sampling: config.sampling,
      score,
      advantages: advantage,
      policy,
      tokenStats: (b, temperature) => hostTokenStats(policy, b, temperature, config.microBatchSamples),
    };
    for (const reg of regularizers) if (reg.augmentBatch) batch = await reg.augmentBatch(batch, context);
    for (const reg of regularizers) if (reg.shapeAdvantages) batch = await reg.shapeAdvantages(batch, context);

    const tUpdate = now();
    const refLogp = reference ? hostTokenStats(reference, batch, 1, config.microBatchSamples).logp : undefined;
    const lr = learningRate(config.optimizer, s, config.steps);
    const updateMetrics = runUpdate({
      policy,
      optimizer,
      loss,
      aggregator,
      regularizers,
      batch,
      refLogp,
      miniBatchSamples: config.miniBatchSamples,
      microBatchSamples: config.microBatchSamples,
      epochs: config.epochs,
      gradClip: config.optimizer.gradClip,
      lr,
      info,
    });
    const updateSeconds = now() - tUpdate;

    const metrics: Metrics = {
      step: s,
      ...rolloutMetrics(scored, rolloutSeconds),
      ...adv.metrics,
      ...updateMetrics,
      'batch/rows': batch.rows,
    };
    for (const reg of regularizers) reg.afterUpdate?.(metrics, info);
    for (const reg of regularizers) Object.assign(metrics, reg.metrics?.() ?? {});
    metrics['time/rollout_s'] = rolloutSeconds;
    metrics['time/update_s'] = updateSeconds;
    metrics['time/step_s'] = now() - tStep;

    step = s;
    history.push(metrics);
    if (outDir) await appendJsonl(file('metrics.jsonl'), metrics);
    emit({ type: 'step', step: s, metrics });
    return metrics;
  }

  async function evaluate(): Promise<EvalResult> {
    await ensureReady();
    const t0 = now();
    const e = config.eval;
    const prompts = e.prompts > 0 ? testPrompts.slice(0, e.prompts) : testPrompts;
    if (!prompts.length) throw new ConfigError('trainer options', [{ path: 'testPrompts', message: 'evaluation needs at least one test prompt' }]);
    const n = e.samplesPerPrompt;
    const correct = new Array<number>(prompts.length).fill(0);
    const scores: number[] = [];
    const lengths: number[] = [];
    // Chunks bound the rollout's memory; promptIndexOffset keeps every row's seed (and so
    // every sampled token) what one rollout over all prompts would draw.
    for (let start = 0; start < prompts.length; start += e.chunkPrompts) {
      const batch = await engine.generate({
        prompts: prompts.slice(start, start + e.chunkPrompts),
        samplesPerPrompt: n,
        sampling: e.sampling,
        seed: config.seed,
        step,
        stream: 'eval',
        promptIndexOffset: start,
      });
      const scored = await score(batch);
      for (let r = 0; r < scored.rows; r++) {
        if (scored.scores[r]! >= e.threshold) correct[start + scored.promptIndex[r]!]!++;
        scores.push(scored.scores[r]!);
      }
      for (const len of responseLengths(scored)) lengths.push(len);
    }
    const metrics: Metrics = { [`eval/avg@${n}`]: mean(correct.map((c) => c / n)) };
    for (const k of [...new Set(e.k)].sort((a, b) => a - b)) {
      if (k <= n) metrics[`eval/pass@${k}`] = mean(correct.map((c) => passAtK(n, c, k)));
    }
    metrics['eval/reward_mean'] = mean(scores);
    metrics['eval/response_len_mean'] = mean(lengths);
    metrics['time/eval_s'] = now() - t0;
    return { step, metrics };
  }

  async function evaluateAndRecord(): Promise<Metrics> {
    const result = await evaluate();
    const row = { step: result.step, ...result.metrics };
    evals.push(row);
    if (outDir) await appendJsonl(file('eval.jsonl'), row);
    emit({ type: 'eval', step: result.step, metrics: result.metrics });
    return row;
  }

  async function saveCheckpoint(): Promise<string> {
    await ensureReady();
    if (!checkpointsDir) throw new ConfigError('trainer options', [{ path: 'outDir', message: 'required to save checkpoints' }]);
    const name = checkpointName(step);
    const dir = join(checkpointsDir, name);
    const state: TrainerCheckpointState = {
      format: CHECKPOINT_FORMAT,
      step,
      seed: config.seed,
      regularizers: regularizers.map((r) => ({ id: r.id, state: r.state?.() ?? null })),
      history,
      evals,
    };
    await writeCheckpoint(dir, {
      policy: { save: (d) => policyIO.save(d, policy), load: async () => {} },
      optimizer: optimizer.state(),
      state,
    });
    await writeLatest(checkpointsDir, name);
    await pruneCheckpoints(checkpointsDir, config.keepCheckpoints);
    lastCheckpoint = dir;
    lastCheckpointStep = step;
    emit({ type: 'checkpoint', step, path: dir });
    return dir;
  }

  async function run(): Promise<RunSummary> {
    await ensureReady();
    const evalOn = config.eval.every > 0 && testPrompts.length > 0;
    const evaluatedAt = () => (evals.length ? (evals[evals.length - 1]!.step as number) : -1);
    if (evalOn && step === 0 && evaluatedAt() !== 0) await evaluateAndRecord();
    let stopped = false;
    while (step < config.steps) {
      if (stopRequested) {
        stopped = true;
        break;
      }
      await runStep();
      if (outDir && config.checkpointEvery > 0 && step % config.checkpointEvery === 0) await saveCheckpoint();
      if (evalOn && step % config.eval.every === 0 && step < config.steps) await evaluateAndRecord();
      if (stopRequested && step < config.steps) {
        stopped = true;
        break;
      }
    }
    if (!stopped && evalOn && evaluatedAt() !== step) await evaluateAndRecord();
    if (outDir && lastCheckpointStep !== step) await saveCheckpoint();
    stopRequested = false;
    return {
      steps: step,
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
    step: runStep,
    evaluate,
    saveCheckpoint,
    ready: ensureReady,
    requestStop: () => {
      stopRequested = true;
    },
    get state(): TrainerState {
      return { step, config, history, evals };
    },
    config,
    dispose() {
      optimizer.dispose();
      if (ownsReference) reference?.dispose();
    },
  };
}

/** Creates a trainer and restores it from `outDir/checkpoints/latest` (or `from`). */
export async function resumeTrainer(options: TrainerOptions & { from?: string }): Promise<Trainer> {
  const trainer = createTrainer({ ...options, resumeFrom: options.from ?? options.resumeFrom ?? 'latest' });
  await trainer.ready();
  return trainer;
}
