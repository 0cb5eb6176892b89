#!/usr/bin/env node
// The `test:tensorflow` stage of `pnpm check`: the suites that exercise backend-specific paths
// (fused ops and attention, policy forward/backward and decoding, rollout, a short trainer
// run) once more on the tensorflow backend (tfjs-node), when its binding is built
// (scripts/build-tfjs-node.mjs). Where it is not, prints why and passes.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SUITES = [
  ['tensor', ['src/ops', 'src/masked.test.ts', 'src/engine-saves.test.ts']],
  ['policy', []],
  ['rollout', []],
  ['trainer', []],
];

const probe = spawnSync(process.execPath, [path.join(root, 'scripts/build-tfjs-node.mjs'), '--check'], { encoding: 'utf8' });
if (probe.status !== 0) {
  const reason = probe.stdout.trim().replace(/^tfjs-node: (not usable: )?/, '') || 'the binding check failed';
  console.log(`tensorflow backend: skipped (${reason}; build it with node scripts/build-tfjs-node.mjs)`);
  process.exit(0);
}
const env = { ...process.env, RFTKIT_TEST_BACKENDS: 'tensorflow', TF_CPP_MIN_LOG_LEVEL: '2' };
for (const [pkg, files] of SUITES) {
  console.log(`tensorflow backend: @rftkit/${pkg} ${files.join(' ')}`);
  const run = spawnSync('pnpm', ['--filter', `@rftkit/${pkg}`, 'exec', 'vitest', 'run', ...files], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (run.status !== 0) {
    console.log(`tensorflow backend: @rftkit/${pkg} failed`);
    process.exit(1);
  }
}
console.log('tensorflow backend: all suites passed');
