import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError, type Metrics, writeFileAtomic } from '@rftkit/core';
import { selectBackend } from '@rftkit/tensor';
import { createTrainer, type RunSummary, type TrainerConfig } from '@rftkit/trainer';
import { applyDownloadFlag, compose } from '../compose';
import type { ResolvedRunConfig } from '../config/resolve';
import { loadRunConfig } from '../config/run-config';
import { resumeCommand } from '../invocation';
import type { CliIO } from '../io';
import { createLineProgress, formatDuration, type Progress } from '../progress';
import type { StepRecord } from '../report/charts';
import { entropyTargetOf, writeReport } from '../report/html';
import { readSamples } from '../report/samples-table';
import { gitInfo, readRunMeta, type RunMeta, writeRunMeta } from '../run-meta';
import { VERSION } from '../version';
import { formatSummaryTable, type SummaryRow } from '../report/summary';
import { checkPromptBudget } from '../prompt-budget';
import { comparedDifferences, formatValue, portableConfig, type RunRuntime, type SavedRunConfig } from '../run-folder';

export interface TrainOptions {
  /** `--set path=value` overrides. */
  sets?: string[];
  /** Run folder; default `runs/<config name>-<timestamp>`. */
  out?: string;
  /** Continue the run in `out` from its latest checkpoint. */
  resume?: boolean;
  backend?: string;
  /** wasm backend threads (1–4); default: RFTKIT_WASM_THREADS, else the cores. */
  threads?: number;
  /** Aborting it asks the trainer to stop after the current step (and save a checkpoint). */
  signal?: AbortSignal;
  /** Fetch an `hf:` model missing from the Hub cache (sets policy.with.download). */
  download?: boolean;
  /** Progress display (default: plain lines to `io.err`). */
  progress?: Progress;
  /** The command line, recorded in run.json (default: rebuilt from the config path and `sets`). */
  argv?: string[];
}

export interface TrainResult {
  outDir: string;
  reportPath: string;
  summary: RunSummary;
  table: SummaryRow[];
  config: ResolvedRunConfig;
}

/** A path as the user would type it: relative to the working folder when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Fields that may change when a run is resumed: more steps, another backend, downloading. */
const RESUMABLE_CHANGES = new Set(['trainer.steps', 'backend', 'policy.with.download']);

/** Backend and threads change a run's numbers (1 and 2 wasm threads part after ≈30 steps). */
function warnRuntimeChange(before: RunRuntime, now: RunRuntime, io: CliIO): void {
  const changes = (['backend', 'threads', 'simd'] as const)
    .filter((k) => before[k] !== undefined && before[k] !== now[k])
    .map((k) => `${k} ${String(before[k])} -> ${String(now[k] ?? '(none)')}`);
  if (changes.length === 0) return;
  io.err(
    `WARNING: this run was trained with ${changes.join(', ')}; the resumed steps will not match an uninterrupted run ` +
      `(pass --backend ${before.backend}${before.threads !== undefined ? ` --threads ${before.threads}` : ''} to keep it)`,
  );
}

/** Step rows and eval rows merged into one record per step (eval at step 0 included). */
export function stepRecords(summary: Pick<RunSummary, 'history' | 'evals'>): StepRecord[] {
  const byStep = new Map<number, Metrics>();
  for (const row of [...summary.history, ...summary.evals]) {
    const step = Number(row.step ?? 0);
    byStep.set(step, { ...byStep.get(step), ...row });
  }
  return [...byStep.entries()].sort(([a], [b]) => a - b).map(([step, metrics]) => ({ step, metrics }));
}

/**
 * `rft train`: validates the config, selects the backend, composes the components,
 * trains with checkpoints, and writes `config.json`, `run.json`, `metrics.jsonl`, `eval.jsonl`,
 * `samples.jsonl`, `checkpoints/`, `report.html` and `charts/*.svg` into the run folder.
 */
export async function runTrain(configPath: string, options: TrainOptions, io: CliIO): Promise<TrainResult> {
  const loaded = await loadRunConfig(configPath, { sets: options.sets, backend: options.backend });
  loaded.config.policy = applyDownloadFlag(loaded.config.policy, options.download);
  const { config, registries, name } = loaded;
  if (options.resume && !options.out) {
    throw new ConfigError('--resume', [{ path: '--out', message: 'name the run folder to resume: --out runs/<run>' }]);
  }
  const outDir = resolve(options.out ?? join('runs', `${name}-${timestamp()}`));
  const configFile = join(outDir, 'config.json');
  const hasRun = existsSync(join(outDir, 'checkpoints', 'latest'));
  let saved: SavedRunConfig | undefined;
  if (options.resume) {
    if (!hasRun) {
      throw new ConfigError('--resume', [{ path: '--out', message: `${outDir} has no checkpoint to resume (checkpoints/latest is missing)` }]);
    }
    if (existsSync(configFile)) {
      saved = JSON.parse(await readFile(configFile, 'utf8')) as SavedRunConfig;
      const changed = comparedDifferences(saved, config, loaded.baseDir).filter((d) => !RESUMABLE_CHANGES.has(d.path));
      if (changed.length > 0) {
        throw new ConfigError('--resume', changed.map((d) => ({
          path: d.path,
          message:
            `is ${formatValue(d.current)} here but ${formatValue(d.saved)} in the run's config.json (${displayPath(configFile)}); ` +
            `a resumed run may only change ${[...RESUMABLE_CHANGES].join(', ')}`,
        })));
      }
    }
  } else if (hasRun) {
    throw new ConfigError('--out', [{ path: '--out', message: `${outDir} already holds a run; add --resume to continue it, or choose another folder` }]);
  }

  const backend = await selectBackend(config.backend, { log: (m) => io.err(m), threads: options.threads });
  const parts = await compose(config, registries);
  const trainPrompts = parts.task.generate('train', config.data.trainPrompts, config.seed);
  const testPrompts = config.data.testPrompts > 0 ? parts.task.generate('test', config.data.testPrompts, config.seed) : [];
  const trainerConfig = config.trainer as TrainerConfig;
  try {
    checkPromptBudget(parts.policy, trainPrompts, trainerConfig.sampling.maxNewTokens, 'trainer.sampling.maxNewTokens', `task '${parts.task.id}' (train)`, config.rollout);
    checkPromptBudget(parts.policy, testPrompts, trainerConfig.eval.sampling.maxNewTokens, 'trainer.eval.sampling.maxNewTokens', `task '${parts.task.id}' (test)`, config.rollout);
  } catch (e) {
    parts.policy.dispose();
    parts.reference?.dispose();
    throw e;
  }
  const runtime: RunRuntime = {
    backend: backend.name,
    ...(backend.threads !== undefined ? { threads: backend.threads } : {}),
    ...(backend.simd !== undefined ? { simd: backend.simd } : {}),
  };
  if (saved?.runtime) warnRuntimeChange(saved.runtime, runtime, io);
  const savedConfig: SavedRunConfig = { ...portableConfig(config, loaded.baseDir), runtime };
  await writeFileAtomic(configFile, `${JSON.stringify(savedConfig, null, 2)}\n`);
  const previous = options.resume ? readRunMeta(outDir) : undefined;
  const startedAt = new Date();
  const git = gitInfo();
  let meta: RunMeta = {
    format: 1,
    name,
    rftkit: VERSION,
    ...(git ? { git } : {}),
    seed: config.seed,
    ...runtime,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    argv: options.argv ?? ['train', configPath, ...(options.sets ?? []).flatMap((x) => ['--set', x])],
    configPath,
    status: 'running',
    steps: config.trainer.steps as number,
    stepsDone: previous?.stepsDone ?? 0,
    createdAt: previous?.createdAt ?? startedAt.toISOString(),
    startedAt: startedAt.toISOString(),
    wallSeconds: previous?.wallSeconds ?? 0,
  };
  await writeRunMeta(outDir, meta);
  const finishMeta = async (status: RunMeta['status'], stepsDone: number, error?: unknown) => {
    meta = {
      ...meta,
      status,
      stepsDone,
      endedAt: new Date().toISOString(),
      wallSeconds: (previous?.wallSeconds ?? 0) + (Date.now() - startedAt.getTime()) / 1000,
      ...(error !== undefined ? { error: (error as Error)?.message ?? String(error) } : {}),
    };
    await writeRunMeta(outDir, meta);
  };

  const progress = options.progress ?? createLineProgress((l) => io.err(l));
  const started = Date.now();
  const trainer = createTrainer({
    policy: parts.policy,
    reference: parts.reference,
    trainPrompts,
    testPrompts,
    reward: parts.reward,
    advantage: parts.advantage,
    loss: parts.loss,
    aggregator: parts.aggregation,
    regularizers: parts.regularizers,
    promptFormat: config.rollout,
    config: config.trainer,
    outDir,
    resumeFrom: options.resume ? 'latest' : undefined,
    onEvent(event) {
      if (event.type === 'step') progress.update({ step: event.step, metrics: event.metrics });
      else if (event.type === 'eval') {
        const shown = Object.entries(event.metrics)
          .filter(([k]) => /(pass|avg)@\d+$/.test(k))
          .map(([k, v]) => `${k.replace(/^eval\//, '')} ${v.toFixed(3)}`);
        progress.log(`eval @ step ${event.step}: ${shown.join(' | ')}`);
      } else if (event.type === 'checkpoint') progress.log(`checkpoint: ${displayPath(event.path)}`);
      else if (event.type === 'log') progress.log(event.message);
    },
  });
  const onAbort = () => {
    progress.log('stopping after this step (a checkpoint and the report will be written); interrupt again to quit at once');
    trainer.requestStop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let summary: RunSummary;
  try {
    await trainer.ready();
    io.err(`run: ${outDir}`);
    io.err(
      `composition: task ${config.task.use}, advantage ${config.advantage.use}, loss ${config.loss.use}, ` +
        `aggregation ${config.aggregation.use}, regularizers [${config.regularizers.map((r) => r.use).join(', ')}]`,
    );
    progress.start(config.trainer.steps as number, trainer.state.step);
    if (options.signal?.aborted) trainer.requestStop();
    summary = await trainer.run();
  } catch (e) {
    await finishMeta('failed', trainer.state.step, e);
    throw e;
  } finally {
    progress.stop();
    options.signal?.removeEventListener('abort', onAbort);
    trainer.dispose();
    parts.reference?.dispose();
    parts.policy.dispose();
  }

  await finishMeta(summary.stopped ? 'stopped' : 'finished', summary.steps);
  const records = stepRecords(summary);
  const report = await writeReport(outDir, {
    title: `rft run: ${name}`,
    records,
    config,
    meta,
    samples: await readSamples(join(outDir, 'samples.jsonl')),
    entropyTarget: entropyTargetOf(config as { regularizers?: Array<{ use: string; with?: Record<string, unknown> }> }),
    facts: {
      config: displayPath(resolve(configPath)),
      'backend (selected)': `${backend.name} (${backend.source})`,
      'wall time (this session)': formatDuration((Date.now() - started) / 1000),
      checkpoint: summary.checkpoint ? relative(outDir, summary.checkpoint) : '(none)',
    },
  });
  io.out('');
  io.out(formatSummaryTable(report.summary));
  io.out('');
  if (summary.stopped) {
    io.out(`stopped at step ${summary.steps}; continue with: ${resumeCommand(displayPath(outDir), { configPath, sets: options.sets })}`);
  }
  io.out(`report: ${displayPath(report.reportPath)}`);
  return { outDir, reportPath: report.reportPath, summary, table: report.summary, config };
}
