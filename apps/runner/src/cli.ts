import { recordInvocation } from './invocation';
import { runCli } from './program';
import { type StopWatch, watchStopSignals } from './signals';

const argv = process.argv.slice(2);
recordInvocation(argv);
// `rft train` stops cleanly on SIGINT, SIGTERM and SIGHUP (see signals.ts); other commands
// keep the default (exit at once).
const stops: StopWatch | undefined = argv[0] === 'train' ? watchStopSignals() : undefined;

let code = await runCli(argv, undefined, { signal: stops?.signal });
// A run stopped by a signal exits 128 + its number once the checkpoint and report are written.
if (code === 0 && stops?.exitCode() !== undefined) code = stops.exitCode() as number;
process.exitCode = code;
// Pending handles (wasm runtime, timers) must not keep a finished command alive.
setImmediate(() => process.exit(code));
