import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type Metrics, RftError, writeFileAtomic } from '@rftkit/core';
import { displayPath, runTrain, stepRecords } from '../commands/train';
import type { CliIO } from '../io';
import { createLineProgress, formatDuration } from '../progress';
import { type ComparisonReport, type SuiteRunResult, writeComparisonReport } from './report';
import { sameRunConfig } from '../run-folder';
import { type LoadedSuite, loadSuite, type SuiteRun } from './suite';

export interface ReproduceOptions {
  /** Output folder (default `runs/reproduce-<suite name>`): runs go to `<out>/runs/<name>/`. */
  out?: string;
  /** `--set path=value` applied to every run, after the suite's own overrides. */
  sets?: string[];
  /** Runs trained at once (default 1: in this process). Above 1, each run is a child `rft train` process. */
  parallel?: number;
  backend?: string;
  /** Train and report only these runs (by name); the others are left as they are. */
  only?: string[];
  /** Command that starts `rft` in a child process (default: node + this package's bin/rft.mjs). */
  rftCommand?: string[];
}

export interface ReproduceResult {
  outDir: string;
  suite: LoadedSuite;
  runs: SuiteRunResult[];
  /** What happened to each run: trained now, continued from its checkpoint, or reused as it was. */
  status: Record<string, 'trained' | 'resumed' | 'reused'>;
  report: ComparisonReport;
}

async function readJsonl(path: string): Promise<Metrics[]> {
  if (!existsSync(path)) return [];
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Metrics);
}

/** The step of a run folder's latest checkpoint, or -1 when it has none. */
async function latestCheckpointStep(dir: string): Promise<number> {
  const latest = join(dir, 'checkpoints', 'latest');
  if (!existsSync(latest)) return -1;
  const m = /step-(\d+)/.exec(await readFile(latest, 'utf8'));
  return m ? Number(m[1]) : -1;
}

/** `bin/rft.mjs` of this package, found from the source file or the bundle. */
function defaultRftCommand(): string[] {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const bin = join(dir, 'bin', 'rft.mjs');
    if (existsSync(bin)) return [process.execPath, bin];
    dir = dirname(dir);
  }
  throw new RftError('E_CONFIG', 'reproduce --parallel: cannot find bin/rft.mjs of the runner; run with --parallel 1');
}

/**
 * Environment of a run among `parallel` at once: unless the user chose a wasm thread count,
 * the cores are shared out, since threads that wait on a busy core slow every run down.
 */
function childEnv(parallel: number): NodeJS.ProcessEnv {
  if (process.env.RFTKIT_WASM_THREADS) return process.env;
  const threads = Math.max(1, Math.min(4, Math.floor(availableParallelism() / parallel)));
  return { ...process.env, RFTKIT_WASM_THREADS: String(threads) };
}

function runChild(command: string[], args: string[], prefix: string, io: CliIO, parallel: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command[0]!, [...command.slice(1), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(parallel),
    });
    const forward = (stream: NodeJS.ReadableStream) => {
      let buffer = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) io.err(`${prefix}${line}`);
      });
    };
    forward(child.stdout!);
    forward(child.stderr!);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${prefix.trim()} rft train exited with code ${code}`));
    });
  });
}

/**
 * `rft reproduce`: trains every run of a suite (validated up front) into
 * `<out>/runs/<name>/`, then writes the comparison report `<out>/index.html` with
 * overlay charts (`<out>/charts/*.svg`) and a summary table (`<out>/summary.md`).
 * A run whose folder already holds a finished run with the same config is reused, and
 * an interrupted one is continued from its checkpoint, so rerunning a suite only trains
 * what is missing.
 */
export async function runReproduce(suitePath: string, options: ReproduceOptions, io: CliIO): Promise<ReproduceResult> {
  const parallel = options.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1) {
    throw new ConfigError('--parallel', [{ path: '--parallel', message: `must be a positive integer, got ${parallel}` }]);
  }
  const loadedSuite = await loadSuite(suitePath, { sets: options.sets, backend: options.backend });
  let suite = loadedSuite;
  if (options.only && options.only.length > 0) {
    // A name picks one run, or every seed of a configuration (`--only grpo` or `--only grpo/seed-1`).
    const known = new Set(loadedSuite.runs.flatMap((r) => [r.name, r.group]));
    const unknown = options.only.filter((n) => !known.has(n));
    if (unknown.length > 0) {
      throw new ConfigError('--only', [{ path: '--only', message: `unknown run ${unknown.join(', ')}; the suite has ${[...known].join(', ')}` }]);
    }
    suite = { ...loadedSuite, runs: loadedSuite.runs.filter((r) => options.only!.includes(r.name) || options.only!.includes(r.group)) };
  }
  const outDir = resolve(options.out ?? join('runs', `reproduce-${suite.name}`));
  io.err(`suite: ${suite.name} (${suite.runs.length} runs) → ${displayPath(outDir)}`);
  const started = Date.now();
  const status: ReproduceResult['status'] = {};

  const prepare = async (run: SuiteRun) => {
    const dir = join(outDir, 'runs', run.name);
    const steps = Number(run.loaded.config.trainer.steps);
    const done = await latestCheckpointStep(dir);
    if (done < 0) return { dir, action: 'trained' as const };
    const saved = existsSync(join(dir, 'config.json')) ? (JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as unknown) : undefined;
    // A finished run with exactly this config is kept; anything else goes through runTrain's
    // resume checks, which refuse a changed composition.
    if (done >= steps && sameRunConfig(saved, run.loaded.config, run.loaded.baseDir)) return { dir, action: 'reused' as const };
    return { dir, action: 'resumed' as const };
  };

  const trainOne = async (run: SuiteRun) => {
    const { dir, action } = await prepare(run);
    status[run.name] = action;
    const prefix = `[${run.name}] `;
    if (action === 'reused') {
      io.err(`${prefix}finished run found in ${displayPath(dir)}; reusing it`);
      return;
    }
    const t0 = Date.now();
    io.err(`${prefix}${action === 'resumed' ? 'continuing from its checkpoint' : 'training'} (${displayPath(run.configPath)}${run.sets.length ? ` ${run.sets.map((s) => `--set ${s}`).join(' ')}` : ''})`);
    const resume = action === 'resumed';
    if (parallel === 1) {
      const quiet: CliIO = { out: () => {}, err: (t) => io.err(`${prefix}${t}`) };
      await runTrain(run.configPath, { sets: run.sets, out: dir, resume, backend: options.backend, progress: createLineProgress((l) => io.err(`${prefix}${l}`)) }, quiet);
    } else {
      const args = ['train', run.configPath, ...run.sets.flatMap((s) => ['--set', s]), '--out', dir];
      if (resume) args.push('--resume');
      if (options.backend) args.push('--backend', options.backend);
      await runChild(options.rftCommand ?? defaultRftCommand(), args, prefix, io, parallel);
    }
    const seconds = (Date.now() - t0) / 1000;
    const previous = existsSync(join(dir, 'reproduce.json')) ? (JSON.parse(await readFile(join(dir, 'reproduce.json'), 'utf8')) as { wallSeconds?: number }) : {};
    await writeFileAtomic(join(dir, 'reproduce.json'), `${JSON.stringify({ wallSeconds: (resume ? (previous.wallSeconds ?? 0) : 0) + seconds }, null, 2)}\n`);
    io.err(`${prefix}done in ${formatDuration(seconds)}`);
  };

  const queue = [...suite.runs];
  const failures: Array<{ run: string; error: unknown }> = [];
  await Promise.all(
    Array.from({ length: Math.min(parallel, queue.length) }, async () => {
      for (let run = queue.shift(); run; run = queue.shift()) {
        try {
          await trainOne(run);
        } catch (error) {
          // One failed run must not discard the others: report it, keep going.
          failures.push({ run: run.name, error });
          io.err(`[${run.name}] failed: ${(error as Error)?.message ?? String(error)}`);
        }
      }
    }),
  );
  if (failures.length === suite.runs.length) throw failures[0]!.error;

  const runs: SuiteRunResult[] = [];
  for (const run of suite.runs) {
    if (failures.some((f) => f.run === run.name)) continue;
    const dir = join(outDir, 'runs', run.name);
    const history = await readJsonl(join(dir, 'metrics.jsonl'));
    const evals = await readJsonl(join(dir, 'eval.jsonl'));
    const meta = existsSync(join(dir, 'reproduce.json')) ? (JSON.parse(await readFile(join(dir, 'reproduce.json'), 'utf8')) as { wallSeconds?: number }) : {};
    const regs = run.loaded.config.regularizers as Array<{ use: string; with?: Record<string, unknown> }>;
    const controller = regs.find((r) => r.use === 'aepo' || r.use === 'dcpo');
    const target = controller?.with?.targetEntropy;
    runs.push({
      name: run.name,
      group: run.group,
      ...(run.seed !== undefined ? { seed: run.seed } : {}),
      description: run.description,
      regularizers: regs.map((r) => r.use),
      targetEntropy: typeof target === 'number' ? target : undefined,
      records: stepRecords({ history, evals }),
      wallSeconds: meta.wallSeconds,
      dir,
    });
  }
  const first = suite.runs[0]!.loaded.config;
  const report = await writeComparisonReport(outDir, {
    title: suite.title,
    description: suite.description,
    runs,
    seeded: suite.seeded,
    facts: {
      suite: displayPath(resolve(suitePath)),
      runs: suite.runs.map((r) => `${r.name}${status[r.name] ? ` (${status[r.name]})` : ' (failed)'}`).join(', '),
      seed: suite.seeded ? [...new Set(suite.runs.map((r) => r.seed))].join(', ') : String(first.seed),
      'wall time (this session)': formatDuration((Date.now() - started) / 1000),
    },
  });
  io.out(report.markdown);
  io.out('');
  io.out(`report: ${displayPath(report.indexPath)}`);
  if (failures.length > 0) {
    throw new Error(`${failures.length} of ${suite.runs.length} runs failed (${failures.map((f) => f.run).join(', ')}); the report shows the others`);
  }
  return { outDir, suite, runs, status, report };
}

export { loadSuite };
