import { readFileSync } from 'node:fs';
import { Registry } from '@rftkit/core';
import { expectAllClose } from '@rftkit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { advantageDefinitions } from './index';

interface GoldenCase {
  name: string;
  rows: number;
  seqLen: number;
  scores: number[];
  groupIds: number[];
  responseMask: number[];
  tokenRewards: number[] | null;
  zeroStdFrac: number;
  expected: Array<{ id: string; options: Record<string, unknown>; advantages: number[] }>;
}

// Produced by __fixtures__/generate.py (PyTorch, float64, verl's formulas).
const golden = JSON.parse(readFileSync(new URL('./__fixtures__/golden.json', import.meta.url), 'utf8')) as {
  cases: GoldenCase[];
};
const registry = new Registry('advantage', advantageDefinitions);

describe('advantage estimators match the PyTorch reference', () => {
  for (const c of golden.cases) {
    const input = {
      rows: c.rows,
      seqLen: c.seqLen,
      scores: Float32Array.from(c.scores),
      groupIds: Int32Array.from(c.groupIds),
      responseMask: Float32Array.from(c.responseMask),
      ...(c.tokenRewards ? { tokenRewards: Float32Array.from(c.tokenRewards) } : {}),
    };
    for (const e of c.expected) {
      it(`${c.name}: ${e.id} ${JSON.stringify(e.options)}`, () => {
        const est = registry.create({ use: e.id, with: e.options }) as {
          compute: (i: typeof input) => { advantages: Float32Array; metrics: Record<string, number> };
        };
        const out = est.compute(input);
        expectAllClose(out.advantages, e.advantages, { atol: 2e-5, rtol: 2e-5, label: e.id });
        expect(out.metrics['groups/zero_std_frac']).toBeCloseTo(c.zeroStdFrac, 10);
      });
    }
  }

  it('covers every registered estimator', () => {
    const covered = new Set(golden.cases.flatMap((c) => c.expected.map((e) => e.id)));
    expect([...covered].sort()).toEqual(registry.ids());
  });
});
