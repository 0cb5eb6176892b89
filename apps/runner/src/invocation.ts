/**
 * The command line a run was started with, so the hint printed when it stops is the same
 * command plus `--resume` (its `--set`s, the config path as typed, `pnpm rft` or `rft`).
 */
let recorded: { prefix: string; args: string[] } | undefined;

/** Records the CLI's arguments (after `rft`); called once by the CLI entry. */
export function recordInvocation(args: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  recorded = { prefix: env.npm_lifecycle_event === 'rft' ? 'pnpm rft' : 'rft', args: [...args] };
}

export function clearInvocation(): void {
  recorded = undefined;
}

/** Quotes an argument for a POSIX shell when it needs it. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that continues a run in `outDir`: the recorded command line with `--out`
 * (added when it was defaulted) and `--resume`; without a recorded one, a `rft train`
 * command built from the config path and `--set`s.
 */
export function resumeCommand(outDir: string, fallback: { configPath: string; sets?: readonly string[] }): string {
  let prefix = 'rft';
  let args: string[];
  if (recorded && recorded.args[0] === 'train') {
    prefix = recorded.prefix;
    args = recorded.args.filter((a) => a !== '--resume');
  } else {
    args = ['train', fallback.configPath, ...(fallback.sets ?? []).flatMap((s) => ['--set', s])];
  }
  const hasOut = args.some((a) => a === '--out' || a.startsWith('--out='));
  if (!hasOut) args.push('--out', outDir);
  args.push('--resume');
  return [prefix, ...args.map(shellQuote)].join(' ');
}
