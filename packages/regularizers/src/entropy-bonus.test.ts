import { selectBackend } from '@rftkit/tensor';
import { StateError } from '@rftkit/core';
import { describeBackends, expectNoLeaks } from '@rftkit/tensor/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAdaptiveEntropy } from './adaptive-entropy';
import { createEntropyBonus } from './entropy-bonus';
import { disposeContext, handContext, createTabularEngine, mainBatch, makePrompts, TabularPolicy, updateStep } from '@rftkit/test-kit';

describeBackends('entropy-bonus', () => {
  it('loss is −β·(token-mean entropy)', async () => {
    const ctx = handContext({ logp: [[0, 0, 0]], advantages: [[0, 0, 0]], entropy: [[1, 2, 9]], mask: [[1, 1, 0]] });
    await expectNoLeaks(() => createEntropyBonus({ coef: 0.1 }).lossTerms!(ctx), {
      dispose: (t) => tf.dispose([t.loss, ...Object.values(t.metrics ?? {})]),
    });
    const again = createEntropyBonus({ coef: 0.1 }).lossTerms!(ctx);
    expect(again.loss.dataSync()[0]).toBeCloseTo(-0.15, 6);
    expect(again.metrics!['entropy_bonus/entropy']!.dataSync()[0]).toBeCloseTo(1.5, 6);
    tf.dispose([again.loss, ...Object.values(again.metrics!)]);
    disposeContext(ctx);
  });

  it('its gradient step increases the policy entropy (advantages zero)', async () => {
    const policy = new TabularPolicy([3, 1, 0, -1, -2, 0.5]);
    const s = { policy, engine: createTabularEngine(policy), prompts: makePrompts(4, 'abcdef'), samplesPerPrompt: 4, seed: 1, step: 1 };
    const batch = await mainBatch(s); // all correct → GRPO advantages 0
    expect(batch.advantages.every((a) => a === 0)).toBe(true);
    let h = policy.entropy();
    for (let i = 0; i < 3; i++) {
      updateStep(policy, batch, [createEntropyBonus({ coef: 0.5 })], { learningRate: 1 });
      expect(policy.entropy()).toBeGreaterThan(h);
      h = policy.entropy();
    }
    policy.dispose();
  });
});

describe('adaptive-entropy', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  const m = (h: number) => ({ 'entropy/exact': h, 'entropy/nll': 99 });

  it('moves the coefficient by Δ toward the target, within [0, max]', () => {
    const reg = createAdaptiveEntropy({ targetEntropy: 0.2, delta: 0.005, maxCoef: 0.012 });
    const coef = () => reg.metrics!()['adaptive_entropy/coef']!;
    expect(coef()).toBe(0);
    reg.afterUpdate!(m(0.1), { step: 1, seed: 0 });
    expect(coef()).toBeCloseTo(0.005, 12);
    reg.afterUpdate!(m(0.1), { step: 2, seed: 0 });
    reg.afterUpdate!(m(0.1), { step: 3, seed: 0 });
    expect(coef()).toBeCloseTo(0.012, 12); // bounded by max
    reg.afterUpdate!(m(0.3), { step: 4, seed: 0 });
    expect(coef()).toBeCloseTo(0.007, 12);
    expect(reg.metrics!()['adaptive_entropy/active']).toBe(0); // above target: no bonus
    for (let i = 0; i < 5; i++) reg.afterUpdate!(m(0.3), { step: 5 + i, seed: 0 });
    expect(coef()).toBe(0); // bounded below by 0
  });

  it('applies the bonus only at or below target, with the current coefficient', () => {
    const reg = createAdaptiveEntropy({ initialCoef: 0.01, targetEntropy: 0.5 });
    const ctx = handContext({ logp: [[0, 0]], advantages: [[0, 0]], entropy: [[1, 1]], mask: [[1, 1]] });
    const loss = () => {
      const t = reg.lossTerms!(ctx);
      const v = t.loss.dataSync()[0]!;
      tf.dispose([t.loss, ...Object.values(t.metrics ?? {})]);
      return v;
    };
    expect(loss()).toBeCloseTo(-0.01, 6);
    reg.afterUpdate!(m(0.9), { step: 1, seed: 0 });
    expect(loss()).toBeCloseTo(0, 6);
    reg.afterUpdate!(m(0.1), { step: 2, seed: 0 });
    expect(loss()).toBeCloseTo(-0.01, 6); // 0.01 − 0.005 + 0.005
    disposeContext(ctx);
  });

  it('state survives save/load and bad state is rejected', () => {
    const a = createAdaptiveEntropy();
    a.afterUpdate!(m(0.05), { step: 1, seed: 0 });
    a.afterUpdate!(m(0.05), { step: 2, seed: 0 });
    const b = createAdaptiveEntropy();
    b.loadState!(JSON.parse(JSON.stringify(a.state!())));
    expect(b.metrics!()).toEqual(a.metrics!());
    expect(() => b.loadState!({ version: 1, coef: -1, reading: null })).toThrow(StateError);
    expect(() => b.loadState!('x')).toThrow(StateError);
  });
});
