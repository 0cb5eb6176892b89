import { runCli } from './program';

// First Ctrl-C: the trainer finishes its step, saves a checkpoint and the report is written.
// Second Ctrl-C: exit at once.
const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts += 1;
  if (interrupts === 1) controller.abort();
  else process.exit(130);
});

const code = await runCli(process.argv.slice(2), undefined, { signal: controller.signal });
process.exitCode = code;
// Pending handles (wasm workers, timers) must not keep a finished run alive.
setImmediate(() => process.exit(code));
