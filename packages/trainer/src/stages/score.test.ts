import type { RewardFunction } from '@rftkit/core';
import { RewardError } from '@rftkit/rewards';
import { describeBackends } from '@rftkit/tensor/testing';
import { expect, it } from 'vitest';
import { testParts } from '../testing/parts';
import { createScorer } from './score';
import { runStepStages } from './step';

/** Throws `error` on the rows `fails` says, scores 1 elsewhere. */
function flaky(fails: (completion: string, call: number) => boolean, error = () => new Error('verifier down')): RewardFunction & { calls: number } {
  const r = {
    id: 'flaky',
    calls: 0,
    score: (xs: Array<{ completion: string }>) => {
      r.calls++;
      return xs.map((x) => {
        if (fails(x.completion, r.calls)) throw error();
        return 1;
      });
    },
  };
  return r;
}

function withReward(reward: RewardFunction, maxFailedSteps?: number) {
  const parts = testParts({}, { reward });
  parts.scorer = createScorer(reward, { maxFailedSteps }, parts.log);
  return parts;
}

describeBackends('scoring across steps', () => {
  it('counts failed rows in the step row and rate-limits the warnings', async () => {
    const parts = withReward(flaky(() => true));
    const row = await runStepStages(parts, 1);
    expect(row['reward/errors']).toBe(12);
    expect(row['reward/timeouts']).toBe(0);
    // One line for the whole batch, three rows, one line for the other nine.
    expect(parts.logs).toHaveLength(5);
    expect(parts.logs[4]).toMatch(/failed on 9 more rows of this batch \(12 of 12 in all\)/);
  });

  it('a healthy step has no reward failure keys', async () => {
    const row = await runStepStages(testParts(), 1);
    expect(row).not.toHaveProperty('reward/errors');
  });

  it('a reward failing on every row for maxFailedSteps consecutive steps stops the run with its first error', async () => {
    let n = 0;
    const errors: Error[] = [];
    const reward = flaky(
      () => true,
      () => {
        const e = new Error(`verifier down #${++n}`);
        errors.push(e);
        return e;
      },
    );
    const parts = withReward(reward, 3);
    await runStepStages(parts, 1);
    await runStepStages(parts, 2);
    const before = Array.from(parts.policy.getWeights().w!.values);
    const e = await runStepStages(parts, 3).then(
      () => undefined,
      (x: unknown) => x as RewardError,
    );
    expect(e).toBeInstanceOf(RewardError);
    // The first error of the first failed step (the whole-batch call, then row 0's retry).
    expect(e!.message).toBe("Reward 'flaky': failed on every row for 3 consecutive steps; first error: verifier down #2");
    expect(e!.cause).toBe(errors[1]);
    // The third step stops before its update.
    expect(Array.from(parts.policy.getWeights().w!.values)).toEqual(before);
  });

  it('a step with one scored row resets the count; maxFailedSteps 0 never stops', async () => {
    // Every row fails on steps 1, 2, 4, 5; on step 3 (calls 14..26) only some do.
    let step = 0;
    const reward = flaky((completion) => step !== 3 || completion.length % 2 === 0);
    const parts = withReward(reward, 3);
    for (step = 1; step <= 5; step++) await runStepStages(parts, step);
    const never = withReward(flaky(() => true), 0);
    for (let s = 1; s <= 4; s++) expect((await runStepStages(never, s))['reward/errors']).toBe(12);
  });
});
