#!/usr/bin/env node
// Checks `npm i -g rftkit` as a user would run it: packs the CLI package (apps/runner) and
// the @rftkit packages it needs with `pnpm pack`, installs it globally into a scratch
// prefix, and from a scratch folder outside the repository lists the presets and trains
// a shipped preset for a few steps. The run folder must appear with one metrics.jsonl row
// per step, a report, samples and run.json, and the preset's base checkpoint must come
// from inside the installed package.
//
// The @rftkit packages are not on the registry at these versions, and a global install
// ignores overrides, so each packed tarball's @rftkit dependencies are pointed at the
// sibling tarballs (file:) before the install: only those specifiers change.
// Needs `pnpm build` first (as check-packs.mjs does). About 30 s with a warm npm cache.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const root = resolve(import.meta.dirname, '..');
const started = Date.now();
const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
const fail = (message) => {
  console.error(`FAILED     ${message}`);
  process.exit(1);
};

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const workspace = new Map();
for (const name of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', name);
  const json = readJson(join(dir, 'package.json'));
  if (!json.private) workspace.set(json.name, { dir, json });
}
const cliDir = join(root, 'apps', 'runner');
const cli = { dir: cliDir, json: readJson(join(cliDir, 'package.json')) };
if (cli.json.private) fail(`${cli.json.name} is private`);
if (!existsSync(join(cliDir, 'dist', 'cli.js')) || !existsSync(join(cliDir, 'configs'))) fail('apps/runner is not built: run pnpm build first');

/** The CLI and every @rftkit package it needs at run time, transitively. */
const needed = new Map([[cli.json.name, cli]]);
const visit = (p) => {
  for (const dep of Object.keys(p.json.dependencies ?? {})) {
    if (!dep.startsWith('@rftkit/') || needed.has(dep)) continue;
    const w = workspace.get(dep);
    if (!w) fail(`${p.json.name} depends on ${dep}, which is not a published workspace package`);
    needed.set(dep, w);
    visit(w);
  }
};
visit(cli);

const scratch = mkdtempSync(join(tmpdir(), 'rftkit-cli-install-'));
const packed = join(scratch, 'packed');
const linked = join(scratch, 'linked');
mkdirSync(packed);
mkdirSync(linked);
const tarballName = (name) => `${name.replace('@', '').replace('/', '-')}.tgz`;
// `pnpm pack` is mostly process start-up: three at a time.
const execAsync = promisify(execFile);
const queue = [...needed];
const packedPaths = new Map();
await Promise.all(
  [0, 1, 2].map(async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const { stdout } = await execAsync('pnpm', ['pack', '--pack-destination', packed], { cwd: item[1].dir, encoding: 'utf8' });
      packedPaths.set(item[0], stdout.trim().split('\n').at(-1).trim());
    }
  }),
);
for (const name of needed.keys()) {
  const tgz = packedPaths.get(name);
  // Point the @rftkit dependencies at the sibling tarballs.
  const work = join(scratch, 'unpack', tarballName(name));
  mkdirSync(work, { recursive: true });
  run('tar', ['xzf', tgz, '-C', work]);
  const manifestPath = join(work, 'package', 'package.json');
  const manifest = readJson(manifestPath);
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (dep.startsWith('@rftkit/')) manifest.dependencies[dep] = `file:${join(linked, tarballName(dep))}`;
  }
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  run('tar', ['czf', join(linked, tarballName(name)), '-C', work, 'package']);
}
const files = run('tar', ['tzf', join(linked, tarballName(cli.json.name))]).split('\n');
for (const want of ['package/bin/rft.mjs', 'package/dist/cli.js', 'package/configs/default.yaml', 'package/checkpoints/countdown-base/weights.bin']) {
  if (!files.includes(want)) fail(`the ${cli.json.name} tarball lacks ${want.replace('package/', '')}`);
}
console.log(`packed     ${[...needed.keys()].join(', ')}`);

const prefix = join(scratch, 'prefix');
const t0 = Date.now();
run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(linked, tarballName(cli.json.name))]);
console.log(`installed  ${cli.json.name} globally into a scratch prefix (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

const rft = join(prefix, 'bin', 'rft');
const home = join(scratch, 'home');
mkdirSync(home);
const rftRun = (args) => run(rft, args, { cwd: home, env: { ...process.env, RFTKIT_WASM_THREADS: '1' } });
const version = rftRun(['--version']).trim();
if (version !== cli.json.version) fail(`rft --version printed '${version}', expected ${cli.json.version}`);
const presets = rftRun(['presets']);
for (const name of ['default', 'grpo', 'sft-countdown', 'reproduce/baselines']) {
  if (!new RegExp(`^\\s+${name}\\s`, 'm').test(presets)) fail(`rft presets does not list ${name}:\n${presets}`);
}

const steps = 3;
const t1 = Date.now();
rftRun([
  'train', 'default', '--out', 'run', '--backend', 'wasm',
  ...[
    `trainer.steps=${steps}`, 'trainer.promptsPerStep=4', 'trainer.samplesPerPrompt=4', 'trainer.miniBatchSamples=16',
    'trainer.microBatchSamples=16', 'trainer.eval.every=2', 'trainer.eval.prompts=4', 'trainer.eval.samplesPerPrompt=4',
    'trainer.eval.k=[1, 4]', 'trainer.samplesEvery=1', 'data.trainPrompts=16', 'data.testPrompts=4',
  ].flatMap((s) => ['--set', s]),
]);
const runDir = join(home, 'run');
const rows = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
if (rows.map((r) => r.step).join(',') !== Array.from({ length: steps }, (_, i) => i + 1).join(',')) {
  fail(`metrics.jsonl holds steps ${rows.map((r) => r.step).join(',')}, expected 1..${steps}`);
}
if (!rows.every((r) => Number.isFinite(r['reward/mean']) && Number.isFinite(r['entropy/exact']))) fail('metrics.jsonl rows lack reward/mean or entropy/exact');
for (const f of ['config.json', 'eval.jsonl', 'report.html', 'run.json', 'samples.jsonl', 'checkpoints/latest']) {
  if (!existsSync(join(runDir, f))) fail(`the run folder lacks ${f}`);
}
const config = readJson(join(runDir, 'config.json'));
const base = resolve(prefix, 'lib', 'node_modules', cli.json.name, 'configs', config.policy.checkpoint);
if (!existsSync(join(base, 'weights.bin'))) fail(`the run's base checkpoint ${config.policy.checkpoint} is not in the installed package (${base})`);
const meta = readJson(join(runDir, 'run.json'));
if (meta.rftkit !== cli.json.version || meta.git !== undefined || meta.status !== 'finished') {
  fail(`run.json: rftkit ${meta.rftkit}, git ${JSON.stringify(meta.git)}, status ${meta.status} (expected ${cli.json.version}, no git outside a checkout, finished)`);
}
const samples = readFileSync(join(runDir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
if (!samples.some((r) => r.split === 'train') || !samples.some((r) => r.split === 'eval')) fail('samples.jsonl lacks train or eval rows');
console.log(`trained    rft train default for ${steps} steps outside the repository (${((Date.now() - t1) / 1000).toFixed(1)} s): metrics.jsonl steps 1..${steps}, report, ${samples.length} samples, run.json`);

// The dashboard from the installed package: its page and uPlot come from the package's own files.
const dash = spawn(rft, ['dashboard', '.', '--port', '0'], { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
try {
  const url = await new Promise((done, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`rft dashboard printed no URL in 30 s:\n${out}`)), 30_000);
    dash.stdout.on('data', (d) => {
      out += d;
      const m = /dashboard: (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m[1].replace(/\/$/, ''));
      }
    });
    dash.on('exit', (code) => reject(new Error(`rft dashboard exited with code ${code}:\n${out}`)));
  });
  for (const asset of ['/', '/assets/app.js', '/assets/uplot.js']) {
    const res = await fetch(`${url}${asset}`);
    if (res.status !== 200) fail(`rft dashboard: GET ${asset} answered ${res.status}`);
  }
  const listed = await (await fetch(`${url}/api/runs`)).json();
  if (!JSON.stringify(listed).includes('"run"')) fail(`rft dashboard does not list the run: ${JSON.stringify(listed).slice(0, 300)}`);
  console.log(`dashboard  rft dashboard from the installed package serves its page, uPlot and the run (${url})`);
} catch (e) {
  fail(e.message);
} finally {
  dash.kill('SIGTERM');
}

rmSync(scratch, { recursive: true, force: true });
console.log(`cli install check passed (${((Date.now() - started) / 1000).toFixed(0)} s)`);
