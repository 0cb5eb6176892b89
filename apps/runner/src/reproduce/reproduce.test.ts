import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../io';
import { createProgram } from '../program';
import { loadSuite, registerReproduceCommand, runReproduce, summarizeRun } from './index';
import type { SuiteRunResult } from './report';
import { meanSd } from './seed-groups';

const configsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../configs');
const backend = process.env.RFTKIT_RUNNER_TEST_BACKEND ?? 'wasm';

/** Tiny sizes, as a suite's `set` list (the same overrides `--set` takes). */
const TINY = [
  'data.trainPrompts=16',
  'data.testPrompts=4',
  'trainer.steps=2',
  'trainer.promptsPerStep=2',
  'trainer.samplesPerPrompt=4',
  'trainer.miniBatchSamples=8',
  'trainer.microBatchSamples=8',
  'trainer.sampling.maxNewTokens=10',
  'trainer.eval.every=1',
  'trainer.eval.prompts=4',
  'trainer.eval.samplesPerPrompt=4',
  'trainer.eval.k=[1, 4]',
  'trainer.eval.sampling.maxNewTokens=10',
];

function suiteYaml(runs: string): string {
  return [
    'name: tiny',
    'set:',
    ...TINY.map((s) => `  - '${s}'`),
    'runs:',
    runs,
  ].join('\n');
}

const TWO_RUNS = [
  `  - { name: grpo, config: '${join(configsDir, 'grpo.yaml')}' }`,
  `  - name: aepo-h0.3`,
  `    config: '${join(configsDir, 'aepo.yaml')}'`,
  `    set: ['regularizers[0].with.targetEntropy=0.3']`,
].join('\n');

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rft-reproduce-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function captureIO(): CliIO & { text: () => string } {
  const lines: string[] = [];
  return { out: (t) => lines.push(t), err: (t) => lines.push(t), text: () => lines.join('\n') };
}

describe('rft reproduce', () => {
  it('trains every run of a suite, writes the comparison report, and reuses finished runs', async () => {
    const suite = join(root, 'tiny.yaml');
    await writeFile(suite, suiteYaml(TWO_RUNS));
    const out = join(root, 'out');
    const io = captureIO();
    const program = createProgram(io);
    // `rft` registers the command; registering it on a bare program works the same way.
    expect(program.commands.map((c) => c.name())).toContain('reproduce');
    const bare = new Command('rft');
    registerReproduceCommand(bare);
    expect(bare.commands.find((c) => c.name() === 'reproduce')?.options.map((o) => o.long)).toEqual(['--out', '--set', '--only', '--parallel', '--backend']);
    await program.parseAsync(['reproduce', suite, '--out', out, '--backend', backend], { from: 'user' });

    for (const run of ['grpo', 'aepo-h0.3']) {
      const metrics = (await readFile(join(out, 'runs', run, 'metrics.jsonl'), 'utf8')).trim().split('\n');
      expect(metrics).toHaveLength(2);
      expect(existsSync(join(out, 'runs', run, 'report.html'))).toBe(true);
    }
    for (const chart of ['entropy-exact', 'entropy-nll', 'reward', 'pass-at-1', 'pass-at-4', 'pass-at-k-end', 'temperature']) {
      const svg = await readFile(join(out, 'charts', `${chart}.svg`), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      // Overlays name the runs in their legends; the temperature chart only has the AEPO run.
      expect(svg).toContain('aepo-h0.3');
      if (chart !== 'temperature' && chart !== 'pass-at-k-end') expect(svg).toContain('>grpo<');
    }
    const rows = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(rows.map((r: { run: string }) => r.run)).toEqual(['grpo', 'aepo-h0.3']);
    expect(rows[0].targetEntropy).toBeUndefined();
    expect(rows[0].highTemperatureShare).toBeUndefined();
    expect(rows[1].targetEntropy).toBe(0.3);
    expect(rows[1].regularizers).toBe('aepo');
    expect(rows[1].steps).toBe(2);
    expect(rows[1].k).toBe(4);
    // Both runs start from the same policy and seed: the step-0 evaluation is the same.
    expect(rows[0].passAt1[0]).toBe(rows[1].passAt1[0]);
    // The reward/entropy columns are the run's own per-step metrics (1-step windows for 2 steps).
    const grpoMetrics = (await readFile(join(out, 'runs', 'grpo', 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows[0].entropyExact).toEqual([grpoMetrics[0]['entropy/exact'], grpoMetrics[1]['entropy/exact']]);
    expect(rows[0].entropySecondHalf).toBe(grpoMetrics[1]['entropy/exact']);
    const html = await readFile(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<td>aepo-h0.3</td>');
    expect(html).toContain('runs/grpo/report.html');
    expect(io.text()).toContain('| aepo-h0.3 | aepo | 0.30 |');

    // Rerun: both runs are finished with the same config, so nothing trains again.
    const again = await runReproduce(suite, { out, backend }, captureIO());
    expect(again.status).toEqual({ grpo: 'reused', 'aepo-h0.3': 'reused' });
    expect(again.report.rows).toEqual(rows);

    // More steps: each run continues from its checkpoint instead of starting over.
    const longer = await runReproduce(suite, { out, backend, sets: ['trainer.steps=3'], parallel: 2, rftCommand: ['false'] }, captureIO()).catch((e) => e);
    // Parallel runs go through child `rft train` processes: a failing command fails every run.
    expect(String(longer)).toMatch(/rft train exited with code 1/);
    const resumed = await runReproduce(suite, { out, backend, sets: ['trainer.steps=3'] }, captureIO());
    expect(resumed.status).toEqual({ grpo: 'resumed', 'aepo-h0.3': 'resumed' });
    expect(resumed.report.rows.map((r) => r.steps)).toEqual([3, 3]);
  });

  it('a suite with seeds trains each run once per seed and reports mean ± sd over them', async () => {
    const suite = join(root, 'seeded.yaml');
    await writeFile(
      suite,
      [
        'name: seeded',
        'seeds: [0, 1]',
        'set:',
        ...TINY.map((s) => `  - '${s}'`),
        "  - 'trainer.eval.every=0'",
        'runs:',
        `  - { name: grpo, config: '${join(configsDir, 'grpo.yaml')}' }`,
        `  - { name: aepo, config: '${join(configsDir, 'aepo.yaml')}', seeds: [0, 1, 2], set: ['regularizers[0].with.targetEntropy=0.4'] }`,
      ].join('\n'),
    );
    const loaded = await loadSuite(suite, { sets: ['seed=7'] });
    // The seed is set last: a command-line `seed=` cannot collapse the seeds into one run.
    expect(loaded.runs.map((r) => [r.name, r.group, r.seed, r.loaded.config.seed])).toEqual([
      ['grpo/seed-0', 'grpo', 0, 0],
      ['grpo/seed-1', 'grpo', 1, 1],
      ['aepo/seed-0', 'aepo', 0, 0],
      ['aepo/seed-1', 'aepo', 1, 1],
      ['aepo/seed-2', 'aepo', 2, 2],
    ]);
    const out = join(root, 'seeded-out');
    const result = await runReproduce(suite, { out, backend, only: ['grpo'] }, captureIO());
    expect(Object.keys(result.status)).toEqual(['grpo/seed-0', 'grpo/seed-1']);
    const full = await runReproduce(suite, { out, backend }, captureIO());
    expect(full.status['grpo/seed-0']).toBe('reused');
    const per = (dir: string) =>
      readFile(join(out, 'runs', dir, 'metrics.jsonl'), 'utf8').then((t) => t.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>));
    const seed0 = await per('grpo/seed-0');
    const seed1 = await per('grpo/seed-1');
    // Different seeds draw different prompts and samples.
    expect(seed0[0]!['reward/mean'] === seed1[0]!['reward/mean'] && seed0[0]!['entropy/exact'] === seed1[0]!['entropy/exact']).toBe(false);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary.runs).toHaveLength(5);
    const grpo = summary.groups[0];
    expect(grpo.group).toBe('grpo');
    expect(grpo.seeds).toEqual([0, 1]);
    // Independent check of the group statistics from the per-seed run folders.
    // Over 2 steps the start and end windows are one step each (as in the test above).
    const ends = [seed0, seed1].map((m) => m[1]!['entropy/exact']!);
    const mean = (ends[0]! + ends[1]!) / 2;
    expect(grpo.entropyExactEnd.mean).toBeCloseTo(mean, 10);
    expect(grpo.entropyExactEnd.sd).toBeCloseTo(Math.abs(ends[0]! - ends[1]!) / Math.SQRT2, 10);
    expect(summary.groups[1].seeds).toEqual([0, 1, 2]);
    expect(summary.groups[1].targetEntropy).toBe(0.4);
    expect(summary.groups[1].seedsHoldingTarget).toBeGreaterThanOrEqual(0);
    expect(full.report.markdown).toMatch(/^\| grpo \| 2 \| \(none\) \| – \| -?\d\.\d{3} ± \d\.\d{3} \|/m);
    const svg = await readFile(join(out, 'charts', 'entropy-exact.svg'), 'utf8');
    expect(svg).toContain('>aepo<');
    expect(svg).toContain('band ± 1 sd');
    expect(await readFile(join(out, 'index.html'), 'utf8')).toContain('runs/aepo/seed-2/report.html');
  });

  it('the shipped paper suite validates (36 runs) and its smoke version trains, seeds and all', async () => {
    const paper = join(configsDir, 'reproduce/paper.yaml');
    const loaded = await loadSuite(paper);
    expect(loaded.runs).toHaveLength(36);
    expect(new Set(loaded.runs.map((r) => r.group)).size).toBe(12);
    const out = join(root, 'paper-smoke');
    const smoke = await runReproduce(paper, { out, backend, sets: [...TINY, 'trainer.eval.every=0'], only: ['grpo', 'scope-rl'] }, captureIO());
    expect(Object.values(smoke.status)).toEqual(Array(6).fill('trained'));
    expect(smoke.report.groups?.map((g) => [g.group, g.seeds])).toEqual([
      ['grpo', [0, 1, 2]],
      ['scope-rl', [0, 1, 2]],
    ]);
  });

  it('the shipped second-regime suite (sort-digits-mid base) validates and its smoke version evaluates pass@256 at the ends', async () => {
    const suitePath = join(configsDir, 'reproduce/paper-sort.yaml');
    const loaded = await loadSuite(suitePath);
    expect(loaded.runs).toHaveLength(36);
    expect(new Set(loaded.runs.map((r) => r.group)).size).toBe(12);
    const out = join(root, 'paper-sort-smoke');
    const smoke = await runReproduce(suitePath, { out, backend, sets: TINY, only: ['aepo-h0.18'] }, captureIO());
    expect(Object.values(smoke.status)).toEqual(Array(3).fill('trained'));
    const group = smoke.report.groups![0]!;
    expect(group.k).toBe(256);
    const run = JSON.parse(await readFile(join(out, 'runs', 'aepo-h0.18', 'seed-1', 'config.json'), 'utf8'));
    expect(run.task.use).toBe('sort-digits');
    expect(run.regularizers[0].with.targetEntropy).toBe(0.18);
    const evals = (await readFile(join(out, 'runs', 'aepo-h0.18', 'seed-1', 'eval.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(evals.map((e) => e.step)).toEqual([0, 1, 2]);
    expect(evals.map((e) => Object.keys(e).find((k) => k.startsWith('eval/avg@')))).toEqual(['eval/avg@256', 'eval/avg@4', 'eval/avg@256']);
  });

  it('meanSd is the sample mean and sd of the finite values', () => {
    expect(meanSd([1, 2, 3, 4])).toEqual({ mean: 2.5, sd: Math.sqrt(5 / 3), n: 4 });
    expect(meanSd([5, Number.NaN])).toEqual({ mean: 5, sd: 0, n: 1 });
    expect(meanSd([]).n).toBe(0);
  });

  it('validates every run config before training any', async () => {
    const suite = join(root, 'bad.yaml');
    await writeFile(
      suite,
      suiteYaml(`${TWO_RUNS}\n  - { name: typo, config: '${join(configsDir, 'grpo.yaml')}', set: ['trainer.stepz=3'] }`),
    );
    const out = join(root, 'bad-out');
    await expect(runReproduce(suite, { out, backend }, captureIO())).rejects.toThrow(/runs\[2\] 'typo'[\s\S]*trainer\.stepz/);
    expect(existsSync(out)).toBe(false);
    await writeFile(suite, suiteYaml(TWO_RUNS));
    await expect(runReproduce(suite, { out, backend, only: ['grpo', 'nope'] }, captureIO())).rejects.toThrow(/--only: unknown run nope; the suite has grpo, aepo-h0.3/);
    expect(existsSync(out)).toBe(false);

    await writeFile(suite, suiteYaml(`${TWO_RUNS}\n  - { name: grpo, config: '${join(configsDir, 'grpo.yaml')}' }`));
    await expect(loadSuite(suite)).rejects.toThrow(/runs\[2\]\.name: 'grpo' is used twice/);
    await writeFile(suite, suiteYaml(`  - { name: Bad Name, config: x.yaml, sett: [] }`));
    await expect(loadSuite(suite)).rejects.toThrow(/runs\[0\]\.name[\s\S]*runs\[0\]/);
  });
});

describe('summarizeRun', () => {
  it('computes start/end windows, the second-half entropy and the controller share by hand', () => {
    // 4 steps: windows of 2 (half of the points), second half = steps 3-4.
    const entropy = [0.5, 0.4, 0.3, 0.1];
    const records = [
      { step: 0, metrics: { 'eval/pass@1': 0.1, 'eval/pass@8': 0.6 } },
      ...entropy.map((h, i) => ({
        step: i + 1,
        metrics: { 'reward/mean': i / 4, 'entropy/exact': h, 'entropy/nll': h + 0.01, 'aepo/temperature': i === 0 ? 1.2 : 0.8 },
      })),
    ];
    records[4]!.metrics = { ...records[4]!.metrics, ...{ 'eval/pass@1': 0.3, 'eval/pass@8': 0.5 } };
    const run: SuiteRunResult = { name: 'x', group: 'x', regularizers: ['aepo'], targetEntropy: 0.2, records, dir: '/tmp/x' };
    const row = summarizeRun(run);
    expect(row.steps).toBe(4);
    expect(row.reward[0]).toBeCloseTo((0 + 0.25) / 2, 12);
    expect(row.reward[1]).toBeCloseTo((0.5 + 0.75) / 2, 12);
    expect(row.entropyExact[0]).toBeCloseTo(0.45, 12);
    expect(row.entropyExact[1]).toBeCloseTo(0.2, 12);
    expect(row.entropySecondHalf).toBeCloseTo(0.2, 12);
    expect(row.passAt1).toEqual([0.1, 0.3]);
    expect(row.k).toBe(8);
    expect(row.passAtK).toEqual([0.6, 0.5]);
    expect(row.highTemperatureShare).toBe(0.25);
  });
});
