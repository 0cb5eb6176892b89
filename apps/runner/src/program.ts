import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isRftError, type RftErrorCode } from '@rftkit/core';
import { runDashboard } from './commands/dashboard';
import { runCompare } from './commands/compare';
import { runEval } from './commands/eval';
import { EXPORT_DTYPES, runExport } from './commands/export';
import { formatComponentList } from './commands/list';
import { runSft } from './commands/sft';
import { runTrain } from './commands/train';
import { type CliIO, processIO } from './io';
import { createProgress } from './progress';
import { createRegistries } from './registries';
import { formatPresetList, listPresets, resolveConfigArgument } from './presets';
import { registerReproduceCommand } from './reproduce/index';
import { VERSION } from './version';

/** Error codes that mean "fix your config or arguments" (exit code 2). */
const USAGE_CODES: ReadonlySet<RftErrorCode> = new Set([
  'E_CONFIG',
  'E_OPTIONS',
  'E_UNKNOWN_COMPONENT',
  'E_DUPLICATE_COMPONENT',
  'E_COMPONENT_MODULE',
]);

const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'];

function threadsOption(): Option {
  return new Option('--threads <n>', 'wasm backend threads, 1–4 (default: RFTKIT_WASM_THREADS, else the cores)').argParser(
    (value: string) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 4) throw new InvalidArgumentError('--threads must be an integer from 1 to 4');
      return n;
    },
  );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer`);
    return n;
  };
}

function nonNegativeNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a number ≥ 0 (0 = greedy)`);
    return n;
  };
}

function seedValue(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError('--seed must be an integer in [0, 2^32)');
  return n;
}

function portValue(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('--port must be an integer from 0 to 65535 (0 = any free port)');
  return n;
}

function intList(value: string): number[] {
  const ks = value.split(',').map((s) => Number(s.trim()));
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k <= 0)) {
    throw new InvalidArgumentError('expected positive integers separated by commas, e.g. 1,4,16');
  }
  return ks;
}

export interface ProgramHooks {
  /** Passed to `rft train`; the CLI aborts it on the first SIGINT. */
  signal?: AbortSignal;
}

export { VERSION } from './version';

/** The `rft` command line (commander). Actions write through `io`. */
export function createProgram(io: CliIO = processIO, hooks: ProgramHooks = {}): Command {
  const program = new Command('rft')
    .description('Reinforcement fine-tuning of language-model policies, composed from a config file.')
    .version(VERSION, '-V, --version', 'print the rft version')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride();

  program
    .command('train')
    .description('Train a policy with the algorithm a run config composes; writes a run folder with a report.')
    .argument('<config>', 'run config (YAML or JSON) or preset name (`rft presets`), e.g. default or configs/default.yaml')
    .option('--set <path=value>', 'override a config field (repeatable), e.g. --set trainer.steps=20', collect, [])
    .option('--out <dir>', 'run folder (default: runs/<config-name>-<timestamp>)')
    .option('--resume', 'continue the run in --out from its latest checkpoint')
    .addOption(new Option('--backend <name>', 'tfjs backend (overrides the config)').choices(BACKENDS))
    .addOption(threadsOption())
    .option('--download', "fetch an hf: model missing from the Hugging Face cache (as policy.with.download: true)")
    .action(async (config: string, opts: { set: string[]; out?: string; resume?: boolean; backend?: string; threads?: number; download?: boolean }) => {
      await runTrain(
        resolveConfigArgument(config, 'train'),
        {
          sets: opts.set,
          out: opts.out,
          resume: opts.resume,
          backend: opts.backend,
          threads: opts.threads,
          download: opts.download,
          signal: hooks.signal,
          progress: createProgress(),
          argv: ['train', config, ...opts.set.flatMap((x) => ['--set', x]), ...(opts.out ? ['--out', opts.out] : []), ...(opts.resume ? ['--resume'] : [])],
        },
        io,
      );
    });

  program
    .command('eval')
    .description("Evaluate a run's latest policy (or a checkpoint) on its task's test split: pass@k and avg@n.")
    .argument('<target>', 'run folder, trainer checkpoint (checkpoints/step-N), policy folder, or a Hugging Face model (hf:org/name or a folder)')
    .option('--task <id>', "task to evaluate on (default: the run's task)")
    .option('--samples <n>', 'samples per prompt (n)', positiveInt('--samples'), 16)
    .option('--k <list>', 'pass@k values, comma-separated', intList, [1, 4, 16])
    .option('--prompts <n>', 'test prompts', positiveInt('--prompts'), 100)
    .option('--temperature <t>', "sampling temperature; 0 = greedy (default: the run's eval sampling, else 1)", nonNegativeNumber('--temperature'))
    .option('--json', 'print the result as one JSON object')
    .option('--seed <n>', "seed of prompts and samples (default: the run's seed)", seedValue)
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(BACKENDS).default('auto'))
    .addOption(threadsOption())
    .option('--download', 'fetch an hf: target missing from the Hugging Face cache')
    .action(async (target: string, opts: { task?: string; samples: number; k: number[]; prompts: number; temperature?: number; seed?: number; backend: string; threads?: number; json?: boolean; download?: boolean }) => {
      await runEval(target, opts, io);
    });

  program
    .command('sft')
    .description("Train a base policy on the task's solutions (supervised), save it, and report pass@k.")
    .argument('<config>', 'SFT config or preset name, e.g. sft-countdown or configs/sft-countdown.yaml')
    .option('--set <path=value>', 'override a config field (repeatable)', collect, [])
    .option('--out <dir>', "policy folder (default: the config's out)")
    .option('--force', 'overwrite an existing policy folder')
    .addOption(new Option('--backend <name>', 'tfjs backend (overrides the config)').choices(BACKENDS))
    .addOption(threadsOption())
    .option('--download', "fetch an hf: model missing from the Hugging Face cache (as policy.with.download: true)")
    .action(async (config: string, opts: { set: string[]; out?: string; backend?: string; threads?: number; force?: boolean; download?: boolean }) => {
      await runSft(resolveConfigArgument(config, 'sft'), { sets: opts.set, out: opts.out, backend: opts.backend, threads: opts.threads, force: opts.force, download: opts.download }, io);
    });

  program
    .command('export')
    .description('Write the policy of a run or checkpoint (policy: { use: hf }) as a Hugging Face model folder.')
    .argument('<target>', 'run folder (its latest checkpoint), trainer checkpoint (checkpoints/step-N) or policy folder')
    .requiredOption('--to <dir>', 'the Hugging Face folder to write')
    .addOption(new Option('--dtype <type>', 'stored weight type').choices([...EXPORT_DTYPES]).default('float32'))
    .option('--force', 'replace an existing non-empty --to folder')
    .option('--adapter <dir>', 'a LoRA run: also write its adapters as a PEFT folder (--to gets the merged model)')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(BACKENDS))
    .action(async (target: string, opts: { to: string; dtype: (typeof EXPORT_DTYPES)[number]; force?: boolean; backend?: string; adapter?: string }) => {
      await runExport(target, { to: opts.to, dtype: opts.dtype, force: opts.force, backend: opts.backend, adapter: opts.adapter }, io);
    });

  program
    .command('dashboard')
    .description('Serve a local page that lists the runs in a folder and charts their metrics live while they train.')
    .argument('[runs-dir]', 'folder holding run folders (default: runs, where rft train writes them)', 'runs')
    .option('--port <n>', 'port to listen on; 0 = any free port (default: 6006, or the next free one)', portValue)
    .option('--host <address>', 'interface to listen on; other than loopback, anyone who can reach it reads the runs', '127.0.0.1')
    .action(async (runsDir: string, opts: { port?: number; host: string }) => {
      await runDashboard(runsDir, { port: opts.port, host: opts.host, signal: hooks.signal }, io);
    });

  registerReproduceCommand(program, io);

  program
    .command('compare')
    .description('Compare run folders: config differences, final pass@k and metrics side by side; writes one HTML page overlaying them.')
    .argument('<runs...>', 'two or more run folders (runs/<name>-<timestamp>)')
    .option('--out <file>', 'the HTML page to write', 'compare.html')
    .action(async (runs: string[], opts: { out: string }) => {
      await runCompare(runs, { out: opts.out }, io);
    });

  program
    .command('presets')
    .description('List the configs shipped with rft, by the command that runs them (`rft train <preset>`).')
    .action(() => {
      io.out(formatPresetList(listPresets()));
    });

  program
    .command('list')
    .description('List every registered component by family, with its description.')
    .action(() => {
      io.out(formatComponentList(createRegistries()));
    });

  return program;
}

/**
 * Runs the CLI and returns its exit code: 0 ok, 2 bad config or arguments (printed
 * without a stack trace), 1 other failures.
 */
export async function runCli(argv: readonly string[], io: CliIO = processIO, hooks: ProgramHooks = {}): Promise<number> {
  const program = createProgram(io, hooks);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return 0;
      return e.code === 'commander.executeSubCommandAsync' ? 1 : 2;
    }
    if (isRftError(e)) {
      io.err(`rft: ${e.message}`);
      return USAGE_CODES.has(e.code) ? 2 : 1;
    }
    io.err(`rft: unexpected error\n${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}
