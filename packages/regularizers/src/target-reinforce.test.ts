import { selectBackend } from '@rftkit/tensor';
import { Registry, type Sampler } from '@rftkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { regularizerDefinitions } from './index';
import { createTargetReinforce, resolveSampler } from './target-reinforce';
import { augmentContext, createTabularEngine, mainBatch, makePrompts, softmax, TabularPolicy, updateStep } from '@rftkit/test-kit';

/** A frozen teacher policy as the target distribution. */
function teacherSampler(theta: number[]): Sampler {
  const teacher = new TabularPolicy(theta, false);
  const engine = createTabularEngine(teacher);
  return { id: 'teacher', describe: () => 'frozen teacher', sample: (request) => engine.generate(request) };
}

function kl(p: number[], q: number[]): number {
  return p.reduce((a, x, i) => a + (x > 0 ? x * Math.log(x / q[i]!) : 0), 0);
}

describe('target-reinforce', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('pulls the policy toward the target restricted to rewarded answers', async () => {
    const teacherTheta = [0, 2, 2, 0, 0, 0];
    const correct = 'bcd';
    const policy = new TabularPolicy([2, 0, 0, 0, 1, 0]);
    const s = { policy, engine: createTabularEngine(policy), prompts: makePrompts(8, correct), samplesPerPrompt: 8, seed: 4, step: 1 };
    const reg = createTargetReinforce({ target: teacherSampler(teacherTheta), promptFraction: 1, alpha: 1, maxSamples: 1000 });
    const batch = await mainBatch(s);
    const train = await reg.augmentBatch!(batch, augmentContext(s));
    const m = reg.metrics!();
    expect(m['target_reinforce/samples_generated']).toBe(64);
    expect(m['target_reinforce/samples_used']).toBe(m['target_reinforce/samples_kept']);
    expect(train.rows).toBe(batch.rows + m['target_reinforce/samples_used']!);
    expect(train.source.slice(batch.rows).every((x) => x === 'target-reinforce:teacher')).toBe(true);
    // q restricted to correct answers
    const q = softmax(teacherTheta).map((x, i) => (correct.includes('abcdef'[i]!) ? x : 0));
    const z = q.reduce((a, b) => a + b, 0);
    const qc = q.map((x) => x / z);
    const before = kl(qc, policy.probs());
    updateStep(policy, train, [], { learningRate: 1 });
    const after = kl(qc, policy.probs());
    expect(after).toBeLessThan(before);
    // The GRPO batch alone moves less toward it.
    const alone = new TabularPolicy([2, 0, 0, 0, 1, 0]);
    updateStep(alone, batch, [], { learningRate: 1 });
    expect(after).toBeLessThan(kl(qc, alone.probs()));
    policy.dispose();
    alone.dispose();
  });

  it('replace mode keeps the batch size; nothing kept → skipped', async () => {
    const policy = new TabularPolicy([0, 0, 0, 0, 0, 0]);
    const s = { policy, engine: createTabularEngine(policy), prompts: makePrompts(4, 'ab'), samplesPerPrompt: 4, seed: 2, step: 3 };
    const batch = await mainBatch(s);
    const replace = createTargetReinforce({ target: teacherSampler([5, 0, 0, 0, 0, 0]), mode: 'replace', maxSamples: 3 });
    const out = await replace.augmentBatch!(batch, augmentContext(s));
    expect(out.rows).toBe(batch.rows);
    expect(out.source.slice(0, 3)).toEqual(['target-reinforce:teacher', 'target-reinforce:teacher', 'target-reinforce:teacher']);
    const none = createTargetReinforce({ target: teacherSampler([0, 0, 0, 0, 0, 9]) }); // teacher always answers f (wrong)
    expect(await none.augmentBatch!(batch, augmentContext(s))).toBe(batch);
    expect(none.metrics!()['target_reinforce/skipped']).toBe(1);
    policy.dispose();
  });

  it('resolves {use, with} through the rollout samplers', () => {
    expect(resolveSampler({ use: 'tempered', with: { temperature: 1.5 } }).id).toBe('tempered');
    expect(() => createTargetReinforce({ target: { use: 'nope' as never } })).toThrow(/Unknown sampler 'nope'.*Available: mixture, reference, tempered, truncated/);
  });
});

describe('regularizerDefinitions', () => {
  it('holds every regularizer, each creatable with defaults', () => {
    const registry = new Registry('regularizer', regularizerDefinitions);
    expect(registry.ids()).toEqual(
      ['adaptive-entropy', 'aepo', 'clip-cov', 'dcpo', 'entropy-adv', 'entropy-bonus', 'kl-cov', 'kl-penalty', 'target-reinforce'].sort(),
    );
    for (const id of registry.ids()) expect((registry.create(id) as { id: string }).id).toBe(id);
    expect(() => registry.create({ use: 'entropy-bonus', with: { coef: -1 } })).toThrow(/coef/);
  });
});
