#!/usr/bin/env node
// Checks what users would install: lints every published package with publint, packs it
// with `pnpm pack` (workspace:* becomes a real version), installs all tarballs into a
// scratch project outside the workspace with npm, and imports each package there.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

const packages = readdirSync(join(root, 'packages'))
  .map((name) => ({ dir: join(root, 'packages', name), json: JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) }))
  .filter((p) => !p.json.private);

const scratch = mkdtempSync(join(tmpdir(), 'rftkit-pack-check-'));
const tarballs = {};
let failed = false;

for (const p of packages) {
  try {
    run('npx', ['publint', '--strict'], p.dir);
    const out = run('pnpm', ['pack', '--pack-destination', scratch], p.dir).trim().split('\n');
    tarballs[p.json.name] = `file:${out[out.length - 1].trim()}`;
    console.log(`packed  ${p.json.name}`);
  } catch (e) {
    failed = true;
    console.error(`FAILED  ${p.json.name}: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}
if (failed) process.exit(1);

const tfVersion = '4.22.0';
writeFileSync(
  join(scratch, 'package.json'),
  JSON.stringify(
    {
      name: 'rftkit-pack-check',
      private: true,
      type: 'module',
      dependencies: {
        ...tarballs,
        '@tensorflow/tfjs-core': tfVersion,
        '@tensorflow/tfjs-backend-cpu': tfVersion,
        '@tensorflow/tfjs-backend-wasm': tfVersion,
        zod: '4.1.12',
      },
      overrides: tarballs,
    },
    null,
    2,
  ),
);
run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], scratch);

const smoke = `
import * as tf from '@tensorflow/tfjs-core';
${packages.map((p, i) => `import * as m${i} from '${p.json.name}';`).join('\n')}
const names = ${JSON.stringify(packages.map((p) => p.json.name))};
const mods = [${packages.map((_, i) => `m${i}`).join(', ')}];
mods.forEach((m, i) => { if (Object.keys(m).length === 0) throw new Error(names[i] + ' exports nothing'); });
const core = m${packages.findIndex((p) => p.json.name === '@rftkit/core')};
for (const backend of ['cpu', 'wasm']) {
  await core.selectBackend(backend);
  const g = tf.grad((x) => tf.sum(core.gatherLogProbs(x, tf.tensor1d([1], 'int32'))))(tf.tensor2d([[0, 0]]));
  if (Math.abs(g.dataSync()[1] - 0.5) > 1e-6) throw new Error('gradient check failed on ' + backend);
}
await import('@rftkit/tensor/testing').catch((e) => { if (!/vitest/.test(String(e))) throw e; });
console.log('imported ' + names.length + ' packages; gradients work on cpu and wasm');
`;
writeFileSync(join(scratch, 'smoke.mjs'), smoke);
try {
  console.log(run('node', ['smoke.mjs'], scratch).trim());
} catch (e) {
  console.error(`FAILED  smoke import: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
  process.exit(1);
}
rmSync(scratch, { recursive: true, force: true });
console.log('pack check passed');
