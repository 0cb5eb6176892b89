/**
 * How `rft train` stops on a signal. The first SIGINT, SIGTERM or SIGHUP (what Ctrl-C,
 * SLURM, Kubernetes, Docker and a closed terminal send) asks the trainer to finish its
 * step, save a checkpoint and write the report; the process then exits with 128 + the
 * signal's number (130, 143, 129), so a scheduler can tell "stopped, resumable" from
 * success. A second signal exits at once with the same code (the run resumes from its
 * last saved checkpoint). A trainer whose parent process dies (e.g. `pnpm rft` killed
 * with SIGTERM) stops as on SIGTERM instead of training on orphaned.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** 128 + the signal number, the shell's convention. */
export const SIGNAL_EXIT_CODES: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export interface StopWatch {
  /** Aborted on the first signal (or when the parent process dies). */
  signal: AbortSignal;
  /** The exit code the stop asks for; undefined while no signal came. */
  exitCode(): number | undefined;
  dispose(): void;
}

export interface StopWatchOptions {
  log?: (message: string) => void;
  exit?: (code: number) => void;
  /** How often the parent process is checked, ms (0: never). */
  parentPollMs?: number;
  /** Process-like source of signals and the parent id (tests pass a fake). */
  proc?: Pick<NodeJS.Process, 'on' | 'off' | 'ppid'>;
}

export function watchStopSignals(options: StopWatchOptions = {}): StopWatch {
  const proc = options.proc ?? process;
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const controller = new AbortController();
  let code: number | undefined;

  const stop = (name: StopSignal, why: string) => {
    if (code === undefined) {
      code = SIGNAL_EXIT_CODES[name];
      log(`rft: ${why}; stopping after this step (a checkpoint and the report will be written); send it again to quit at once`);
      controller.abort(name);
      return;
    }
    log(`rft: ${why} again; exiting at once (the run resumes from its last saved checkpoint)`);
    exit(code);
  };
  const handlers = STOP_SIGNALS.map((name) => {
    const handler = () => stop(name, `received ${name}`);
    proc.on(name, handler);
    return [name, handler] as const;
  });

  // A parent that dies leaves this process re-parented (ppid changes); signals sent to
  // the parent (e.g. SIGTERM to `pnpm`) are not forwarded, so this is the only notice.
  const parent = proc.ppid;
  const poll =
    (options.parentPollMs ?? 1000) > 0 && parent > 1
      ? setInterval(() => {
          if (proc.ppid !== parent) {
            clearInterval(poll);
            if (code === undefined) stop('SIGTERM', `the parent process (${parent}) exited`);
          }
        }, options.parentPollMs ?? 1000)
      : undefined;
  poll?.unref();

  return {
    signal: controller.signal,
    exitCode: () => code,
    dispose() {
      if (poll) clearInterval(poll);
      for (const [name, handler] of handlers) proc.off(name, handler);
    },
  };
}
