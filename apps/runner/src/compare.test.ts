import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompare } from './commands/compare';
import { seedGroups } from './report/compare';
import { runTrain } from './commands/train';
import type { CliIO } from './io';

const configsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../configs');
const backend = process.env.RFTKIT_RUNNER_TEST_BACKEND ?? 'wasm';
const TINY = [
  'data.trainPrompts=16',
  'data.testPrompts=4',
  'trainer.steps=2',
  'trainer.promptsPerStep=2',
  'trainer.samplesPerPrompt=4',
  'trainer.miniBatchSamples=8',
  'trainer.microBatchSamples=8',
  'trainer.eval.every=2',
  'trainer.eval.prompts=4',
  'trainer.eval.samplesPerPrompt=2',
  'trainer.eval.k=[1, 2]',
];
const quiet: CliIO = { out: () => {}, err: () => {} };

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rft-compare-'));
  await runTrain(join(configsDir, 'grpo.yaml'), { sets: TINY, out: join(root, 'grpo'), backend }, quiet);
  await runTrain(join(configsDir, 'default.yaml'), { sets: TINY, out: join(root, 'aepo'), backend }, quiet);
  await runTrain(join(configsDir, 'grpo.yaml'), { sets: [...TINY, 'seed=1'], out: join(root, 'grpo-s1'), backend }, quiet);
}, 120_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const lastEval = async (dir: string) => {
  const rows = (await readFile(join(dir, 'eval.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  return rows.at(-1)!;
};

describe('rft compare', () => {
  it('prints the config differences and final pass@k of each run, and writes one page overlaying them', async () => {
    const lines: string[] = [];
    const dirs = ['grpo', 'aepo', 'grpo-s1'].map((d) => join(root, d));
    const result = await runCompare(dirs, { out: join(root, 'compare.html') }, { out: (t) => lines.push(t), err: () => {} });
    const printed = lines.join('\n');
    // Differences only: the regularizers and the seed, not the shared sizes.
    const diff = printed.split('\n\n')[0]!;
    expect(diff).toMatch(/^config\s+grpo\s+aepo\s+grpo-s1$/m);
    expect(diff).toMatch(/^regularizers\[0\]\.with\.targetEntropy\s+–\s+0\.5\s+–$/m);
    expect(diff).toMatch(/^regularizers\s+\[\]\s+–\s+\[\]$/m);
    expect(diff).toMatch(/^seed\s+0\s+0\s+1$/m);
    expect(diff).not.toMatch(/^trainer\.steps\s/m);
    // The final evaluation of each run, as its eval.jsonl has it.
    for (const [i, d] of dirs.entries()) {
      const e = await lastEval(d);
      expect(e.step).toBe(2);
      expect(result.runs[i]!.name).toBe(['grpo', 'aepo', 'grpo-s1'][i]);
      const row = printed.split('\n').find((l) => l.startsWith(`${result.runs[i]!.name} `) && /\d\.\d{4}/.test(l))!;
      expect(row).toContain(e['eval/pass@1']!.toFixed(4));
      expect(row).toContain(e['eval/pass@2']!.toFixed(4));
    }
    expect(printed).toMatch(/compare: .*compare\.html/);
    const html = await readFile(result.pagePath, 'utf8');
    expect(html).toContain('<h2>Config differences</h2>');
    expect(html).toMatch(/<td>seed<\/td><td>0<\/td><td>0<\/td><td>1<\/td>/);
    // reward, entropy, pass@1, pass@2, pass@k, temperature, then one chart per metric group.
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(8);
    expect(html).toContain('target');
    expect(html).toContain('rftkit');
    // grpo and grpo-s1 differ only in the seed: one series, its mean with a ±1 sd band.
    const groups = seedGroups(result.runs);
    expect([...groups.entries()].map(([label, members]) => [label, members.map((m) => m.name)])).toEqual([
      ['grpo +1 (2 seeds, mean ± sd)', ['grpo', 'grpo-s1']],
      ['aepo', ['aepo']],
    ]);
    expect(html).toContain('grpo +1 (2 seeds, mean ± sd)');
    expect(html).toMatch(/class="mark-area role-mark/);
  });

  it('refuses fewer than two runs and a folder that is not a run', async () => {
    await expect(runCompare([join(root, 'grpo')], {}, quiet)).rejects.toThrow(/at least two run folders, got 1/);
    await mkdir(join(root, 'empty'), { recursive: true });
    await expect(runCompare([join(root, 'grpo'), join(root, 'empty')], { out: join(root, 'x.html') }, quiet)).rejects.toThrow(/not a run folder: config\.json is missing/);
  });
});
