// `rft` with the reproduce command registered, for running from source before the
// published CLI wires it in: npx tsx apps/runner/src/reproduce/main.ts reproduce <suite.yaml>
import { CommanderError } from 'commander';
import { isRftError } from '@rftkit/core';
import { processIO } from '../io';
import { createProgram } from '../program';
import { registerReproduceCommand } from './index';

const program = createProgram(processIO);
registerReproduceCommand(program, processIO);
let code = 0;
try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' });
} catch (e) {
  if (e instanceof CommanderError) code = e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 2;
  else if (isRftError(e)) {
    processIO.err(`rft: ${e.message}`);
    code = e.code === 'E_CONFIG' || e.code === 'E_OPTIONS' || e.code === 'E_UNKNOWN_COMPONENT' ? 2 : 1;
  } else {
    processIO.err(`rft: ${(e as Error)?.stack ?? String(e)}`);
    code = 1;
  }
}
// Pending handles (wasm runtime) must not keep a finished command alive.
setImmediate(() => process.exit(code));
