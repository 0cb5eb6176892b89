import { type Command, InvalidArgumentError, Option } from 'commander';
import { type CliIO, processIO } from '../io';
import { resolveConfigArgument } from '../presets';
import { type ReproduceOptions, runReproduce } from './run-suite';

export { type ComparisonReport, formatMarkdownTable, summarizeRun, type SuiteRunResult, type SuiteSummaryRow, writeComparisonReport } from './report';
export { type ReproduceOptions, type ReproduceResult, runReproduce } from './run-suite';
export { type LoadedSuite, type LoadSuiteOptions, loadSuite, type SuiteFile, type SuiteRun, suiteRunSchema, suiteSchema } from './suite';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('--parallel must be a positive integer');
  return n;
}

/**
 * Adds `rft reproduce <suite.yaml> [--out DIR] [--set k=v]... [--only a,b] [--parallel N] [--backend B]`:
 * trains every run of a suite (configs/reproduce/*.yaml) and writes a comparison report.
 */
export function registerReproduceCommand(program: Command, io: CliIO = processIO): Command {
  return program
    .command('reproduce')
    .description('Train every run of a suite (e.g. AEPO at several target entropies, GRPO) and write a comparison report.')
    .argument('<suite>', 'suite file or preset name, e.g. entropy-targets or configs/reproduce/entropy-targets.yaml')
    .option('--out <dir>', 'output folder (default: runs/reproduce-<suite name>); finished runs in it are reused, interrupted ones continued')
    .option('--set <path=value>', 'override a field of every run config (repeatable), e.g. --set trainer.steps=50', collect, [])
    .option('--only <names>', 'train and report only these runs, comma-separated (e.g. to split a suite across machines)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--parallel <n>', 'runs trained at once (above 1: one `rft train` process each; needs `pnpm build`)', positiveInt, 1)
    .addOption(new Option('--backend <name>', 'tfjs backend of every run (overrides the configs)').choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .action(async (suite: string, opts: { out?: string; set: string[]; parallel: number; backend?: string; only?: string[] }) => {
      const options: ReproduceOptions = { out: opts.out, sets: opts.set, parallel: opts.parallel, backend: opts.backend, only: opts.only };
      await runReproduce(resolveConfigArgument(suite, 'reproduce'), options, io);
    });
}
