import { dirname, resolve } from 'node:path';
import { ConfigError, zodIssues } from '@rftkit/core';
import { z } from 'zod';
import { readConfigFile } from '../config/load';
import { type LoadedRunConfig, loadRunConfig } from '../config/run-config';

const seedsSchema = z
  .array(z.number().int().min(0).max(0xffffffff))
  .min(1)
  .refine((xs) => new Set(xs).size === xs.length, 'seeds must be distinct');

/** One run of a suite: a run config plus overrides. */
export const suiteRunSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-", e.g. aepo-h0.5')
    .describe('Run name: its folder under <out>/runs/ and its label in the charts.'),
  config: z.string().min(1).describe('Run config, relative to the suite file (e.g. ../aepo.yaml).'),
  set: z.array(z.string()).default([]).describe('`--set path=value` overrides of this run, after the suite-wide ones.'),
  seeds: seedsSchema.optional().describe("This run's seeds (default: the suite's `seeds`)."),
  description: z.string().optional(),
});

/** `rft reproduce` suite file: several runs (each with one or more seeds) compared in one report. */
export const suiteSchema = z.strictObject({
  name: z.string().optional().describe('Suite name (default: the file name); the default output folder is runs/reproduce-<name>.'),
  title: z.string().optional().describe('Report title.'),
  description: z.string().optional(),
  set: z.array(z.string()).default([]).describe('Overrides applied to every run, before each run\'s own `set`.'),
  seeds: seedsSchema
    .optional()
    .describe('Train every run once per seed (`seed=<s>` set last), into runs/<name>/seed-<s>/; the report shows mean ± sd over seeds.'),
  runs: z.array(suiteRunSchema).min(1).describe('The runs, in the order they are trained and shown.'),
});

export type SuiteFile = z.infer<typeof suiteSchema>;

export interface SuiteRun {
  /** Folder under <out>/runs/: the run's name, or `<name>/seed-<s>` in a suite with seeds. */
  name: string;
  /** The configuration the run belongs to (its suite entry's name); seeds of one group are averaged. */
  group: string;
  /** The seed set for this run, when the suite lists seeds. */
  seed?: number;
  description?: string;
  /** Absolute path of the run config. */
  configPath: string;
  /** Every override in order: suite `set`, run `set`, command-line `--set`. */
  sets: string[];
  loaded: LoadedRunConfig;
}

export interface LoadedSuite {
  name: string;
  title: string;
  description?: string;
  source: string;
  runs: SuiteRun[];
  /** Whether any entry lists seeds (then runs are grouped and the report shows mean ± sd). */
  seeded: boolean;
}

export interface LoadSuiteOptions {
  /** Command-line `--set`s, applied to every run last. */
  sets?: readonly string[];
  backend?: string;
}

/**
 * Reads a suite file and validates it and every run's config (with all overrides) before
 * any work, so a typo in the fifth run does not surface after four runs have trained.
 */
export async function loadSuite(path: string, options: LoadSuiteOptions = {}): Promise<LoadedSuite> {
  const raw = await readConfigFile(path);
  const parsed = suiteSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(path, zodIssues(parsed.error));
  const suite = parsed.data;
  const names = new Set<string>();
  for (const [i, run] of suite.runs.entries()) {
    if (names.has(run.name)) throw new ConfigError(path, [{ path: `runs[${i}].name`, message: `'${run.name}' is used twice; run names must be unique` }]);
    names.add(run.name);
  }
  const baseDir = dirname(resolve(path));
  const runs: SuiteRun[] = [];
  const seeded = suite.seeds !== undefined || suite.runs.some((r) => r.seeds !== undefined);
  for (const [i, run] of suite.runs.entries()) {
    const configPath = resolve(baseDir, run.config);
    const seeds: Array<number | undefined> = run.seeds ?? suite.seeds ?? [undefined];
    for (const seed of seeds) {
      // The seed goes last, so a suite-wide or command-line `--set seed=` cannot collapse the seeds into one.
      const sets = [...suite.set, ...run.set, ...(options.sets ?? []), ...(seed === undefined ? [] : [`seed=${seed}`])];
      let loaded: LoadedRunConfig;
      try {
        loaded = await loadRunConfig(configPath, { sets, backend: options.backend });
      } catch (e) {
        if (e instanceof ConfigError) {
          throw new ConfigError(`${path} (runs[${i}] '${run.name}': ${run.config})`, e.issues);
        }
        throw e;
      }
      const name = seeded ? `${run.name}/seed-${seed ?? loaded.config.seed}` : run.name;
      runs.push({ name, group: run.name, ...(seeded ? { seed: Number(seed ?? loaded.config.seed) } : {}), description: run.description, configPath, sets, loaded });
    }
  }
  const name = suite.name ?? resolve(path).replace(/^.*[\\/]/, '').replace(/\.(ya?ml|json)$/i, '');
  return { name, title: suite.title ?? `rft reproduce: ${name}`, description: suite.description, source: path, runs, seeded };
}
