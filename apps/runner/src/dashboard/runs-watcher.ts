import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type JsonlRow, JsonlTail } from './jsonl-tail';
import { realInside } from './safe-path';

/**
 * `finished`: a report newer than the last metrics and every configured step done;
 * `stopped`: a report, fewer steps (stopped early); `running`: no report yet and the logs
 * changed within `activeMs`; `inactive`: no report and no recent change (killed, or on
 * another machine). A `status` string in the run's metadata file wins.
 */
export type RunStatus = 'running' | 'finished' | 'stopped' | 'inactive' | (string & {});

export interface RunInfo {
  /** Path of the run folder below the runs folder, `/`-separated (`reproduce-x/runs/grpo` for a suite's run). */
  name: string;
  status: RunStatus;
  /** Last step in metrics.jsonl. */
  step: number | null;
  /** `trainer.steps` of the run's config. */
  steps: number | null;
  /** When its logs last changed (ms since the epoch). */
  updatedAt: number | null;
  /** The composition: task, advantage, loss, regularizers, from config.json. */
  composition: string | null;
  /** Numbers of the last metrics.jsonl and eval.jsonl rows. */
  last: Record<string, number>;
  lastEval: Record<string, number>;
  /** Files directly in the run folder. */
  files: string[];
  /** The run's metadata file (see {@link METADATA_FILES}), when there is one. */
  meta: Record<string, unknown> | null;
}

export type TailedFile = 'metrics' | 'eval' | 'samples';

export type WatchEvent =
  | { type: 'runs'; exists: boolean; runs: RunInfo[] }
  | { type: 'rows'; run: string; file: TailedFile; generation: number; reset: boolean; start: number; rows: JsonlRow[] };

/** Names a run's metadata file may have; the first present is shown. */
export const METADATA_FILES = ['run.json', 'meta.json', 'metadata.json'] as const;

const FILE_NAMES: Record<TailedFile, string> = { metrics: 'metrics.jsonl', eval: 'eval.jsonl', samples: 'samples.jsonl' };
/** Samples are many rows per step; the newest are enough for a page. */
const MAX_SAMPLE_ROWS = 20_000;
/** How deep below the runs folder run folders are looked for (`rft reproduce` nests them two deep). */
const MAX_DEPTH = 3;
/** Folders inside a run that never hold runs. */
const NOT_RUNS = new Set(['checkpoints', 'charts', 'node_modules']);

interface CachedJson {
  mtimeMs: number;
  value: Record<string, unknown> | null;
}

export interface RunState {
  name: string;
  dir: string;
  tails: Record<TailedFile, JsonlTail>;
  config: CachedJson | null;
  meta: CachedJson | null;
  files: string[];
  logsChangedAt: number | null;
  reportAt: number | null;
}

export interface RunsWatcherOptions {
  /** Milliseconds between polls of the runs folder. Default 1000. */
  pollMs?: number;
  /** A run without a report whose logs changed this recently is `running`. Default 10 minutes. */
  activeMs?: number;
}

/**
 * Polls a runs folder: finds run folders (a `config.json` or `metrics.jsonl` inside),
 * tails their `metrics.jsonl`, `eval.jsonl` and `samples.jsonl`, and tells listeners about
 * new rows and changes to the run list. Polling, not `fs.watch`: it behaves the same on
 * every platform and on network folders, and a stat per file per second costs nothing.
 * Nothing outside the runs folder is read, symlinks included.
 */
export class RunsWatcher {
  readonly root: string;
  private readonly pollMs: number;
  private readonly activeMs: number;
  private readonly runs = new Map<string, RunState>();
  private readonly listeners = new Set<(e: WatchEvent) => void>();
  private exists = false;
  private lastList = '';
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(root: string, options: RunsWatcherOptions = {}) {
    this.root = resolve(root);
    this.pollMs = options.pollMs ?? 1000;
    this.activeMs = options.activeMs ?? 10 * 60_000;
  }

  /** Polls once now, then every `pollMs` until {@link stop}. */
  async start(): Promise<void> {
    await this.poll();
    const tick = () => {
      this.timer = setTimeout(async () => {
        await this.poll().catch(() => {});
        if (this.timer) tick();
      }, this.pollMs);
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  on(listener: (e: WatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): { exists: boolean; runs: RunInfo[] } {
    return { exists: this.exists, runs: [...this.runs.values()].map((r) => this.info(r)) };
  }

  run(name: string): RunState | undefined {
    return this.runs.get(name);
  }

  /** One scan of the runs folder; concurrent calls share it. */
  poll(): Promise<void> {
    this.polling ??= this.scan().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private emit(e: WatchEvent): void {
    for (const l of this.listeners) l(e);
  }

  private async scan(): Promise<void> {
    const found = new Map<string, string>();
    this.exists = existsSync(this.root) && (await stat(this.root)).isDirectory();
    if (this.exists) await this.findRuns(this.root, '', 0, found);
    for (const name of this.runs.keys()) if (!found.has(name)) this.runs.delete(name);
    for (const [name, dir] of [...found].sort(([a], [b]) => a.localeCompare(b))) {
      let state = this.runs.get(name);
      if (!state) {
        state = {
          name,
          dir,
          tails: {
            metrics: new JsonlTail(join(dir, FILE_NAMES.metrics)),
            eval: new JsonlTail(join(dir, FILE_NAMES.eval)),
            samples: new JsonlTail(join(dir, FILE_NAMES.samples), MAX_SAMPLE_ROWS),
          },
          config: null,
          meta: null,
          files: [],
          logsChangedAt: null,
          reportAt: null,
        };
        this.runs.set(name, state);
      }
      await this.refresh(state);
    }
    const list = this.list();
    const text = JSON.stringify(list);
    if (text !== this.lastList) {
      this.lastList = text;
      this.emit({ type: 'runs', ...list });
    }
  }

  private async findRuns(dir: string, prefix: string, depth: number, found: Map<string, string>): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || NOT_RUNS.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        if (!(await realInside(this.root, path))) continue;
        if (!(await stat(path).catch(() => undefined))?.isDirectory()) continue;
      } else if (!entry.isDirectory()) continue;
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (existsSync(join(path, 'config.json')) || existsSync(join(path, FILE_NAMES.metrics))) found.set(name, path);
      else if (depth + 1 < MAX_DEPTH) await this.findRuns(path, name, depth + 1, found);
    }
  }

  private async refresh(state: RunState): Promise<void> {
    for (const file of Object.keys(FILE_NAMES) as TailedFile[]) {
      const tail = state.tails[file];
      if (existsSync(tail.path) && !(await realInside(this.root, tail.path))) continue;
      const update = await tail.poll().catch(() => undefined);
      if (!update) continue;
      this.emit({ type: 'rows', run: state.name, file, generation: tail.generation, ...update });
    }
    const entries = await readdir(state.dir, { withFileTypes: true }).catch(() => []);
    state.files = entries.filter((e) => e.isFile()).map((e) => e.name).sort();
    state.config = await this.readCachedJson(join(state.dir, 'config.json'), state.config);
    const metaName = METADATA_FILES.find((n) => state.files.includes(n));
    state.meta = metaName ? await this.readCachedJson(join(state.dir, metaName), state.meta) : null;
    const times = await Promise.all(
      [FILE_NAMES.metrics, FILE_NAMES.eval, 'config.json', 'report.html'].map((n) =>
        stat(join(state.dir, n)).then((s) => s.mtimeMs, () => null),
      ),
    );
    const [metricsAt, evalAt, configAt, reportAt] = times;
    state.reportAt = reportAt ?? null;
    const latest = Math.max(metricsAt ?? 0, evalAt ?? 0, configAt ?? 0);
    state.logsChangedAt = latest > 0 ? latest : null;
  }

  private async readCachedJson(path: string, cached: CachedJson | null): Promise<CachedJson | null> {
    if (!(await realInside(this.root, path))) return null;
    const mtimeMs = (await stat(path)).mtimeMs;
    if (cached && cached.mtimeMs === mtimeMs) return cached;
    try {
      const value: unknown = JSON.parse(await readFile(path, 'utf8'));
      return { mtimeMs, value: typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null };
    } catch {
      return { mtimeMs, value: null };
    }
  }

  private info(state: RunState): RunInfo {
    const config = state.config?.value ?? null;
    const trainer = config?.trainer as { steps?: unknown } | undefined;
    const steps = typeof trainer?.steps === 'number' ? trainer.steps : null;
    const lastRow = state.tails.metrics.rows.at(-1);
    const step = typeof lastRow?.step === 'number' ? lastRow.step : null;
    const meta = state.meta?.value ?? null;
    let status: RunStatus;
    if (typeof meta?.status === 'string') status = meta.status;
    else if (state.reportAt !== null && state.reportAt >= (state.logsChangedAt ?? 0) - 1000) {
      status = steps !== null && step !== null && step < steps ? 'stopped' : 'finished';
    } else if (state.logsChangedAt !== null && Date.now() - state.logsChangedAt < this.activeMs) status = 'running';
    else status = 'inactive';
    return {
      name: state.name,
      status,
      step,
      steps,
      updatedAt: state.logsChangedAt,
      composition: config ? composition(config) : null,
      last: numbers(lastRow),
      lastEval: numbers(state.tails.eval.rows.at(-1)),
      files: state.files,
      meta,
    };
  }
}

function numbers(row: JsonlRow | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(row ?? {})) if (typeof v === 'number' && k !== 'step') out[k] = v;
  return out;
}

function use(ref: unknown): string | undefined {
  return typeof ref === 'object' && ref !== null && typeof (ref as { use?: unknown }).use === 'string' ? (ref as { use: string }).use : undefined;
}

function composition(config: Record<string, unknown>): string | null {
  const regs = Array.isArray(config.regularizers) ? config.regularizers.map(use).filter(Boolean) : [];
  const parts = [use(config.task), use(config.advantage), use(config.loss), ...regs].filter(Boolean);
  return parts.length ? parts.join(' · ') : null;
}
