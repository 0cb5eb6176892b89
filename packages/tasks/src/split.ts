import { OptionsError, Rng, deriveSeed } from '@rftkit/core';
import type { PromptRecord, Split } from '@rftkit/core';
import { z } from 'zod';

export const testFractionSchema = z
  .number()
  .gt(0)
  .lt(1)
  .default(0.1)
  .describe('Share of the problem space held out for the test split (by a hash of each problem).');

/**
 * The split a problem belongs to, decided by a hash of its key alone (never by the seed),
 * so no seed or count can put one problem in both splits.
 */
export function splitOf(task: string, key: string, testFraction: number): Split {
  return deriveSeed(0, task, 'split', key) / 4294967296 < testFraction ? 'test' : 'train';
}

export function checkGenerateArgs(task: string, split: Split, count: number, seed: number): void {
  const issues = [];
  if (split !== 'train' && split !== 'test') issues.push({ path: 'split', message: `must be 'train' or 'test', got ${String(split)}` });
  if (!Number.isInteger(count) || count < 0) issues.push({ path: 'count', message: `must be a non-negative integer, got ${count}` });
  if (!Number.isInteger(seed)) issues.push({ path: 'seed', message: `must be an integer, got ${seed}` });
  if (issues.length) throw new OptionsError(`task:${task}`, issues);
}

export interface Proposal {
  /** Decides the split; problems sharing it (e.g. the same numbers) share a split. */
  splitKey: string;
  /** Builds the problem: `key` de-duplicates; undefined rejects the draw. */
  propose: () => { key: string; record: PromptRecord } | undefined;
}

/**
 * Draws `count` distinct problems of one split. `draw` proposes a problem: `splitKey`
 * decides its split (cheap, checked first), `key` identifies it for de-duplication and
 * `make` builds the record (may return undefined to reject, e.g. no solution).
 */
export function generateDistinct(args: {
  task: string;
  split: Split;
  count: number;
  seed: number;
  testFraction: number;
  draw: (rng: Rng) => Proposal;
}): PromptRecord[] {
  const { task, split, count, seed, testFraction } = args;
  checkGenerateArgs(task, split, count, seed);
  const rng = Rng.derive(seed, task, split);
  const out: PromptRecord[] = [];
  const seen = new Set<string>();
  const maxAttempts = 2000 + count * 500;
  for (let attempt = 0; out.length < count; attempt++) {
    if (attempt >= maxAttempts) {
      throw new OptionsError(`task:${task}`, [
        {
          path: 'count',
          message: `found only ${out.length} distinct ${split} problems after ${maxAttempts} draws; ask for fewer or widen the task's ranges`,
        },
      ]);
    }
    const d = args.draw(rng);
    if (splitOf(task, d.splitKey, testFraction) !== split) continue;
    const p = d.propose();
    if (!p || seen.has(p.key)) continue;
    seen.add(p.key);
    out.push(p.record);
  }
  return out;
}
