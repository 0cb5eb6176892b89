#!/usr/bin/env node
// Checks what users would install: lints every published package with publint, packs it
// with `pnpm pack` (workspace:* becomes a real version), then installs EACH package alone in
// its own scratch project outside the workspace (its tarball, the tarballs of the @rftkit
// packages it depends on, pinned by npm overrides, and its peer dependencies) and imports it
// there, so a missing dependency or a broken export map fails here rather than for a user.
// Through @rftkit/tensor it also takes one gradient on the cpu and wasm backends.
// All installs share one npm cache, so after the first they come from disk.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const root = resolve(import.meta.dirname, '..');
const started = Date.now();
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const runAsync = promisify(execFile);

const packages = readdirSync(join(root, 'packages'))
  .map((name) => ({ dir: join(root, 'packages', name), json: JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) }))
  .filter((p) => !p.json.private);
const byName = new Map(packages.map((p) => [p.json.name, p]));

const scratch = mkdtempSync(join(tmpdir(), 'rftkit-pack-check-'));
const tarballs = {};
let failed = false;

for (const p of packages) {
  try {
    run('npx', ['publint', '--strict'], p.dir);
    const out = run('pnpm', ['pack', '--pack-destination', scratch], p.dir).trim().split('\n');
    tarballs[p.json.name] = `file:${out[out.length - 1].trim()}`;
    console.log(`packed     ${p.json.name}`);
  } catch (e) {
    failed = true;
    console.error(`FAILED     ${p.json.name}: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}
if (failed) process.exit(1);

/** The package and every @rftkit package it needs at run time, transitively. */
function closure(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  const p = byName.get(name);
  if (!p) throw new Error(`${name} is not a published workspace package`);
  for (const dep of Object.keys(p.json.dependencies ?? {})) if (dep.startsWith('@rftkit/')) closure(dep, seen);
  return seen;
}

// Peer dependencies the smoke needs (optional peers such as tfjs-node are left out).
const tfVersion = '4.22.0';
const peers = (p) => {
  const out = {};
  for (const [dep, range] of Object.entries(p.json.peerDependencies ?? {})) {
    if (p.json.peerDependenciesMeta?.[dep]?.optional && !/^@tensorflow\/tfjs-backend-(cpu|wasm)$/.test(dep)) continue;
    out[dep] = dep.startsWith('@tensorflow/') ? tfVersion : range;
  }
  return out;
};

const gradientSmoke = `
import * as tf from '@tensorflow/tfjs-core';
import { gatherLogProbs } from '@rftkit/core';
import { selectBackend } from '@rftkit/tensor';
for (const backend of ['cpu', 'wasm']) {
  await selectBackend(backend);
  const g = tf.grad((x) => tf.sum(gatherLogProbs(x, tf.tensor1d([1], 'int32'))))(tf.tensor2d([[0, 0]]));
  if (Math.abs(g.dataSync()[1] - 0.5) > 1e-6) throw new Error('gradient check failed on ' + backend);
}
await import('@rftkit/tensor/testing').catch((e) => { if (!/vitest/.test(String(e))) throw e; });
console.log('gradients work on cpu and wasm');
`;

const cache = join(scratch, 'npm-cache');
async function checkAlone(p) {
  const name = p.json.name;
  const dir = join(scratch, name.replace('@rftkit/', ''));
  mkdirSync(dir);
  const own = Object.fromEntries([...closure(name)].map((n) => [n, tarballs[n]]));
  const manifest = { name: `check-${name.replace('@rftkit/', '')}`, private: true, type: 'module', dependencies: { [name]: tarballs[name], ...peers(p) }, overrides: own };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  await runAsync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', `--cache=${cache}`], { cwd: dir });
  // Only what the package itself declares (and its @rftkit closure) is there: nothing hoisted from siblings.
  const smoke = `const m = await import('${name}');\nif (Object.keys(m).length === 0) throw new Error('${name} exports nothing');\n${name === '@rftkit/tensor' ? gradientSmoke : ''}`;
  writeFileSync(join(dir, 'smoke.mjs'), smoke);
  const { stdout } = await runAsync('node', ['smoke.mjs'], { cwd: dir });
  return stdout.trim();
}

// The first install fills the cache; the rest run two at a time from it.
const queue = [...packages];
const first = queue.splice(queue.findIndex((p) => p.json.name === '@rftkit/trainer'), 1);
async function worker(list) {
  for (const p of list) {
    const t = Date.now();
    try {
      const out = await checkAlone(p);
      console.log(`installed  ${p.json.name} alone and imported it (${((Date.now() - t) / 1000).toFixed(1)} s)${out ? `: ${out}` : ''}`);
    } catch (e) {
      failed = true;
      console.error(`FAILED     ${p.json.name} alone: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
    }
  }
}
await worker(first);
await Promise.all([worker(queue.filter((_, i) => i % 2 === 0)), worker(queue.filter((_, i) => i % 2 === 1))]);
if (failed) process.exit(1);
rmSync(scratch, { recursive: true, force: true });
console.log(`pack check passed: ${packages.length} packages, each installed alone (${((Date.now() - started) / 1000).toFixed(0)} s)`);
