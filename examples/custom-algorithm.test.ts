import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { medianAdvantage, runCustomAlgorithm } from './custom-algorithm';

it('the median-baseline estimator subtracts each group median', () => {
  const est = medianAdvantage.create({ scale: 2 });
  // Two groups: rewards [1, 0, 0] (median 0) and [1, 1, 0, 0.5] (median 0.75); seqLen 2, response on t = 1.
  const scores = Float32Array.from([1, 0, 0, 1, 1, 0, 0.5]);
  const groupIds = Int32Array.from([0, 0, 0, 1, 1, 1, 1]);
  const responseMask = Float32Array.from(Array.from({ length: 7 }, () => [0, 1]).flat());
  const out = est.compute({ rows: 7, seqLen: 2, scores, groupIds, responseMask });
  expect(Array.from(out.sequenceAdvantages!)).toEqual([2, 0, 0, 0.5, 0.5, -1.5, -0.5]);
  expect(Array.from(out.advantages)).toEqual([0, 2, 0, 0, 0, 0, 0, 0.5, 0, 0.5, 0, -1.5, 0, -0.5]);
  expect(() => medianAdvantage.create({ scale: -1 })).toThrow(/scale/);
});

it('trains two steps of the custom composition', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'rftkit-example-'));
  try {
    const summary = await runCustomAlgorithm({ steps: 2, backend: 'wasm', outDir });
    expect(summary.steps).toBe(2);
    const last = summary.lastMetrics!;
    for (const key of ['reward/mean', 'entropy/exact', 'entropy/nll', 'grad_norm', 'loss', 'median/nonzero_frac']) {
      expect(Number.isFinite(last[key]), key).toBe(true);
    }
    expect(Object.keys(last).some((k) => k.startsWith('aepo/'))).toBe(true);
    expect(summary.evals.map((e) => e.step)).toEqual([0, 1, 2]);
    const rows = (await readFile(join(outDir, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(rows).toHaveLength(2);
    expect(summary.checkpoint).toMatch(/step-000002$/);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});
