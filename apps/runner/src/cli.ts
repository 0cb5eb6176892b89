import { runCli } from './program';

const argv = process.argv.slice(2);
const controller = new AbortController();
if (argv[0] === 'train') {
  // First Ctrl-C: the trainer finishes its step, saves a checkpoint, and the report is
  // written. Second Ctrl-C: exit at once. Other commands keep the default (exit at once).
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts === 1) controller.abort();
    else process.exit(130);
  });
}

const code = await runCli(argv, undefined, { signal: controller.signal });
process.exitCode = code;
// Pending handles (wasm runtime, timers) must not keep a finished command alive.
setImmediate(() => process.exit(code));
