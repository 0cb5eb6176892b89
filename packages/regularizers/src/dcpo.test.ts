import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import { expect, it } from 'vitest';
import { createDcpo } from './dcpo';
import { augmentContext, createTabularEngine, makePrompts, softmax, TabularPolicy } from '@rftkit/test-kit';
import type { TrainBatch } from '@rftkit/core';

const THETA = [1, 0.5, 0, -0.5, -1, 0.2];

/** Four one-token rows answering a, b, c, f with hand-set scores and advantages. */
function batch(scores: number[], advantages: number[]): TrainBatch {
  const letters = [0, 1, 2, 5];
  const rows = letters.length;
  const tokens = new Int32Array(rows * 2);
  const responseMask = new Float32Array(rows * 2);
  const adv = new Float32Array(rows * 2);
  letters.forEach((v, r) => {
    tokens[r * 2] = 1;
    tokens[r * 2 + 1] = v + 3;
    responseMask[r * 2 + 1] = 1;
    adv[r * 2 + 1] = advantages[r]!;
  });
  return {
    rows,
    seqLen: 2,
    tokens,
    attentionMask: new Float32Array(rows * 2).fill(1),
    responseMask,
    behaviourLogp: new Float32Array(rows * 2),
    logpT1: new Float32Array(rows * 2),
    groupIds: new Int32Array(rows),
    promptIndex: new Int32Array(rows),
    prompts: makePrompts(1, 'a'),
    responses: letters.map((v) => 'abcdef'[v]!),
    sampling: [],
    finishReason: [],
    source: [],
    seeds: new Uint32Array(rows),
    scores: Float32Array.from(scores),
    rewardComponents: {},
    advantages: adv,
  };
}

describeBackends('dcpo', () => {
  it('matches a hand computation', async () => {
    const policy = new TabularPolicy(THETA);
    const s = { policy, engine: createTabularEngine(policy), prompts: makePrompts(1, 'a'), samplesPerPrompt: 4, seed: 0, step: 1 };
    // Reading 0.6 ≤ target 0.75 → T = 1.2; a = min(|0.75 − 0.6|, 0.1) / (2/4) = 0.2; α = 0.2/1.2 = 1/6.
    const dcpo = createDcpo({ initialReading: 0.6 });
    const b = batch([1, 0, 0.5, 0.04], [0.5, -0.5, 1, -1]);
    const out = await expectNoLeaks(() => dcpo.shapeAdvantages!(b, augmentContext(s)) as TrainBatch);
    const alpha = 1 / 6;
    const p1 = softmax(THETA, 1);
    const pT = softmax(THETA, 1.2);
    const correct = [1, 0, 1, 0];
    const expected = [0, 1, 2, 5].flatMap((v, r) => [0, (1 - alpha) * [0.5, -0.5, 1, -1][r]! + alpha * correct[r]! * (pT[v]! / p1[v]!)]);
    expectAllClose(out.advantages, expected, { atol: 1e-5 });
    const m = dcpo.metrics!();
    expect(m['dcpo/temperature']).toBe(1.2);
    expect(m['dcpo/alpha']).toBeCloseTo(alpha, 10);
    expect(m['dcpo/fraction_correct']).toBe(0.5);
    policy.dispose();
  });

  it('no correct response: α = 0, advantages unchanged', () => {
    const policy = new TabularPolicy(THETA);
    const s = { policy, engine: createTabularEngine(policy), prompts: makePrompts(1, 'a'), samplesPerPrompt: 4, seed: 0, step: 1 };
    const dcpo = createDcpo();
    const b = batch([0, 0, 0.05, 0], [0.5, -0.5, 1, -1]);
    const out = dcpo.shapeAdvantages!(b, augmentContext(s)) as TrainBatch;
    expect(Array.from(out.advantages)).toEqual(Array.from(b.advantages));
    expect(dcpo.metrics!()['dcpo/alpha']).toBe(0);
    expect(Number.isFinite(dcpo.metrics!()['dcpo/alpha'])).toBe(true);
    policy.dispose();
  });

  it("readingRows 'main' follows entropy/<estimator>_main", () => {
    const a = createDcpo({ readingRows: 'main' });
    a.afterUpdate!({ 'entropy/nll': 0.9, 'entropy/nll_main': 0.6 }, { step: 1, seed: 0 });
    expect(a.state!()).toEqual({ version: 1, reading: 0.6, step: 1 });
    const b = createDcpo();
    b.afterUpdate!({ 'entropy/nll': 0.9, 'entropy/nll_main': 0.6 }, { step: 1, seed: 0 });
    expect(b.state!()).toEqual({ version: 1, reading: 0.9, step: 1 });
    expect(() => a.afterUpdate!({ 'entropy/nll': 0.9 }, { step: 2, seed: 0 })).toThrow(/entropy\/nll_main/);
  });

  it('uses T_low above target and restores its reading from state', () => {
    const policy = new TabularPolicy(THETA);
    const s = { policy, engine: createTabularEngine(policy), prompts: makePrompts(1, 'a'), samplesPerPrompt: 4, seed: 0, step: 1 };
    const a = createDcpo();
    a.afterUpdate!({ 'entropy/nll': 0.9 }, { step: 1, seed: 0 });
    const b = createDcpo();
    b.loadState!(JSON.parse(JSON.stringify(a.state!())));
    b.shapeAdvantages!(batch([1, 0, 0, 0], [1, 0, 0, 0]), augmentContext(s));
    expect(b.metrics!()['dcpo/temperature']).toBe(0.8);
    // a = min(0.15, 0.1) / 0.25 = 0.4 → α = 0.4/1.4
    expect(b.metrics!()['dcpo/alpha']).toBeCloseTo(0.4 / 1.4, 10);
    policy.dispose();
  });
});
