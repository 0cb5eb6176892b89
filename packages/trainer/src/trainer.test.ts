import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, type Metrics, type PromptRecord, type Regularizer } from '@rftkit/core';
import { selectBackend } from '@rftkit/tensor';
import { describeBackends, expectAllClose } from '@rftkit/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigramEngine, BigramPolicy, charTokenizer, charReward, entropyBonus, groupAdvantage, ppoClipLoss, tokenMean } from '@rftkit/test-kit';
import { createTrainer, resumeTrainer, type TrainerOptions } from './trainer';

const tok = charTokenizer('ab');
const prompts: PromptRecord[] = Array.from({ length: 6 }, (_, i) => ({ id: `p${i}`, prompt: i % 2 ? 'ab' : 'ba' }));

/** Stateful regularizer: counts steps and reports it, so resume must restore its state. */
function counter(): Regularizer {
  let n = 0;
  return {
    id: 'test-counter',
    afterUpdate: () => {
      n++;
    },
    metrics: () => ({ 'counter/n': n }),
    state: () => ({ n }),
    loadState: (s) => {
      n = (s as { n: number }).n;
    },
  };
}

const weightsIO: NonNullable<TrainerOptions['policyIO']> = {
  save: async (dir, policy) => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    const w = policy.getWeights().w!;
    await writeFile(join(dir, 'w.json'), JSON.stringify(Array.from(w.values)));
  },
  load: async (dir, policy) => {
    const values = Float32Array.from(JSON.parse(await readFile(join(dir, 'w.json'), 'utf8')) as number[]);
    policy.setWeights({ w: { shape: [tok.vocabSize, tok.vocabSize], values } });
  },
};

function setup(outDir?: string, extra: Partial<TrainerOptions> = {}) {
  const policy = new BigramPolicy(tok, 1);
  const options: TrainerOptions = {
    policy,
    engine: new BigramEngine(policy),
    trainPrompts: prompts,
    testPrompts: prompts.slice(0, 2),
    reward: charReward('a'),
    advantage: groupAdvantage,
    loss: ppoClipLoss,
    aggregator: tokenMean,
    regularizers: [entropyBonus(0.01), counter()],
    config: {
      steps: 4,
      seed: 3,
      promptsPerStep: 3,
      samplesPerPrompt: 4,
      miniBatchSamples: 6,
      microBatchSamples: 4,
      epochs: 2,
      sampling: { maxNewTokens: 6 },
      optimizer: { lr: 0.05, schedule: 'cosine', warmupSteps: 1 },
      eval: { every: 2, samplesPerPrompt: 4, k: [1, 2, 4], threshold: 0.5, sampling: { maxNewTokens: 6 } },
    },
    outDir,
    policyIO: weightsIO,
    ...extra,
  };
  return { policy, options };
}

const withoutTimes = (m: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('time/') && k !== 'rollout/tokens_per_s'));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rftkit-trainer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeBackends('createTrainer', (backend) => {
  it('a step leaks no tensors and logs every documented metric', async () => {
    const { policy, options } = setup();
    const trainer = createTrainer(options);
    await trainer.step(); // warm-up (first-use kernels may cache tensors)
    const before = tf.memory().numTensors;
    const m = await trainer.step();
    expect(tf.memory().numTensors).toBe(before);
    for (const key of [
      'step',
      'reward/mean',
      'reward/std',
      'reward/hit',
      'entropy/exact',
      'entropy/nll',
      'clip/frac_low',
      'clip/frac_high',
      'approx_kl',
      'grad_norm',
      'lr',
      'loss',
      'response/len_mean',
      'response/len_max',
      'response/truncated_frac',
      'groups/zero_std_frac',
      'time/rollout_s',
      'time/update_s',
      'time/step_s',
      'rollout/tokens_per_s',
      'counter/n',
      'test/entropy_term',
    ]) {
      expect(m[key], key).toBeTypeOf('number');
      expect(Number.isFinite(m[key]), key).toBe(true);
    }
    expect(m.step).toBe(2);
    expect(m['counter/n']).toBe(2);
    // cosine after 1 warm-up step over N = 3: step 2 is the first decay step (peak lr)
    expect(m.lr).toBeCloseTo(0.05, 10);
    expect(m['entropy/exact']).toBeGreaterThan(0);
    trainer.dispose();
    policy.dispose();
  });

  it('4 steps equal 2 steps + checkpoint + resume + 2 steps', async () => {
    const full = setup(join(dir, `${backend}-full`));
    const a = createTrainer(full.options);
    const summaryA = await a.run();
    expect(summaryA.steps).toBe(4);
    expect(summaryA.stopped).toBe(false);
    const wA = full.policy.values();
    a.dispose();
    full.policy.dispose();

    const outB = join(dir, `${backend}-resumed`);
    const first = setup(outB);
    const events: string[] = [];
    const b1 = createTrainer({
      ...first.options,
      onEvent: (e) => {
        events.push(e.type === 'log' ? 'log' : `${e.type}@${e.step}`);
        if (e.type === 'step' && e.step === 2) b1.requestStop();
      },
    });
    const summary1 = await b1.run();
    expect(summary1).toMatchObject({ steps: 2, stopped: true });
    // Each evaluation's samples.jsonl rows follow it (training samples only every 10 steps by default).
    expect(events).toEqual(['eval@0', 'samples@0', 'step@1', 'step@2', 'eval@2', 'samples@2', 'checkpoint@2']);
    await b1.step(); // a step past the checkpoint, as if the run crashed before its next save
    b1.dispose();
    first.policy.dispose();

    const second = setup(outB);
    second.policy.setWeights({ w: { shape: [tok.vocabSize, tok.vocabSize], values: new Float32Array(tok.vocabSize ** 2) } });
    const b2 = await resumeTrainer(second.options);
    expect(b2.state.step).toBe(2);
    const summaryB = await b2.run();
    expectAllClose(second.policy.values(), wA, { atol: 0, label: 'weights' });
    b2.dispose();
    second.policy.dispose();

    const rows = async (out: string, name: string) =>
      (await readFile(join(out, name), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => withoutTimes(JSON.parse(l) as Metrics));
    const metricsA = await rows(join(dir, `${backend}-full`), 'metrics.jsonl');
    expect(metricsA.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect(await rows(outB, 'metrics.jsonl')).toEqual(metricsA);
    const evalA = await rows(join(dir, `${backend}-full`), 'eval.jsonl');
    expect(evalA.map((r) => r.step)).toEqual([0, 2, 4]);
    expect(await rows(outB, 'eval.jsonl')).toEqual(evalA);
    expect(summaryB.history.map(withoutTimes)).toEqual(summaryA.history.map(withoutTimes));
    expect(evalA[2]).toHaveProperty('eval/pass@4');
    expect(evalA[2]).toHaveProperty('eval/avg@4');
  });
});

describe('trainer on cpu', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('a corrupt checkpoint gives a CheckpointError naming the file', async () => {
    const out = join(dir, 'corrupt');
    const { policy, options } = setup(out, { config: { ...setup().options.config, steps: 1, eval: { every: 0 } } });
    const t = createTrainer(options);
    const summary = await t.run();
    t.dispose();
    const ckpt = summary.checkpoint!;
    expect(ckpt).toMatch(/step-000001$/);
    const bin = join(ckpt, 'optimizer.bin');
    const good = await readFile(bin);
    await writeFile(bin, good.subarray(0, 8));
    const err = await resumeTrainer(options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toContain('optimizer.bin');
    await writeFile(bin, good);
    await writeFile(join(ckpt, 'trainer-state.json'), '{"format": 1, "step": ');
    const err2 = await resumeTrainer(options).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(CheckpointError);
    expect((err2 as Error).message).toContain('trainer-state.json');
    policy.dispose();
  });

  it('reward rises on an easy task', async () => {
    const { policy, options } = setup(undefined, {
      regularizers: [],
      config: {
        steps: 12,
        seed: 1,
        promptsPerStep: 4,
        samplesPerPrompt: 6,
        miniBatchSamples: 24,
        microBatchSamples: 24,
        sampling: { maxNewTokens: 6 },
        optimizer: { lr: 0.1, weightDecay: 0 },
        eval: { every: 0 },
      },
    });
    const trainer = createTrainer(options);
    const { history } = await trainer.run();
    const r = history.map((m) => m['reward/mean']!);
    const early = (r[0]! + r[1]! + r[2]!) / 3;
    const late = (r[9]! + r[10]! + r[11]!) / 3;
    expect(late).toBeGreaterThan(early + 0.2);
    trainer.dispose();
    policy.dispose();
  });

  it('config.scoring reaches the reward: maxFailedSteps from the config stops a run whose reward always throws', async () => {
    const broken = { id: 'broken', score: () => { throw new Error('verifier down'); } };
    const base = setup().options.config!;
    const { policy, options } = setup(undefined, {
      reward: broken,
      regularizers: [],
      config: { ...base, steps: 5, eval: { every: 0 }, scoring: { maxFailedSteps: 2, errorScore: -1 } },
    });
    const trainer = createTrainer(options);
    const first = await trainer.step();
    expect(first['reward/errors']).toBe(12);
    expect(first['reward/mean']).toBe(-1);
    const err = await trainer.step().catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/'broken'.*every row for 2 consecutive steps; first error: verifier down/);
    trainer.dispose();
    policy.dispose();
  });

  it('rejects an invalid config naming the field', () => {
    const { options } = setup();
    expect(() => createTrainer({ ...options, config: { promptsPerStep: 0 } })).toThrow(/promptsPerStep/);
    expect(() => createTrainer({ ...options, config: { optimizer: { name: 'sgd' } } as never })).toThrow(/optimizer\.name/);
  });

  it('evaluate() reports pass@k and avg@n of the eval rollout', async () => {
    const { policy, options } = setup();
    const trainer = createTrainer(options);
    const result = await trainer.evaluate();
    // Recompute from the same rollout request (stream 'eval', step 0) by hand.
    const batch = await new BigramEngine(policy).generate({
      prompts: prompts.slice(0, 2),
      samplesPerPrompt: 4,
      sampling: { temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: 6, stopTokens: [] },
      seed: 3,
      step: 0,
      stream: 'eval',
    });
    const scores = (await charReward('a').score(
      batch.responses.map((completion, r) => ({ prompt: batch.prompts[batch.promptIndex[r]!]!, completion, finishReason: batch.finishReason[r]! })),
    )) as Array<{ score: number }>;
    const c = [0, 0];
    scores.forEach((s, r) => {
      if (s.score >= 0.5) c[batch.promptIndex[r]!]!++;
    });
    expect(result.step).toBe(0);
    expect(result.metrics['eval/avg@4']).toBeCloseTo((c[0]! + c[1]!) / 8, 10);
    const p2 = (n: number) => (n >= 3 ? 1 : 1 - ((4 - n) * (3 - n)) / 12); // 1 − C(4−c,2)/C(4,2)
    expect(result.metrics['eval/pass@2']).toBeCloseTo((p2(c[0]!) + p2(c[1]!)) / 2, 10);
    expect(result.metrics['eval/pass@4']).toBeCloseTo(((c[0]! > 0 ? 1 : 0) + (c[1]! > 0 ? 1 : 0)) / 2, 10);
    expect(result.metrics).not.toHaveProperty('eval/pass@8');
    trainer.dispose();
    policy.dispose();
  });

  it('evaluate() in chunks of eval.chunkPrompts gives the metrics of one rollout over all prompts', async () => {
    const { policy, options } = setup();
    const testPrompts = Array.from({ length: 7 }, (_, i) => ({ id: `t${i}`, prompt: ['a', 'ab', 'ba', 'bab'][i % 4]! }));
    const evalWith = async (chunkPrompts: number) => {
      const base = options.config!.eval!;
      const trainer = createTrainer({ ...options, testPrompts, config: { ...options.config, eval: { ...base, chunkPrompts } } });
      const { metrics } = await trainer.evaluate();
      trainer.dispose();
      return withoutTimes(metrics);
    };
    const whole = await evalWith(7);
    expect(await evalWith(100)).toEqual(whole);
    for (const chunk of [1, 2, 3]) expect(await evalWith(chunk)).toEqual(whole);
    // Not a vacuous match: prompts differ in how often they succeed.
    expect(whole['eval/avg@4']).toBeGreaterThan(0);
    expect(whole['eval/avg@4']).toBeLessThan(1);
    expect(() => createTrainer({ ...options, config: { eval: { chunkPrompts: 0 } } })).toThrow(/chunkPrompts/);
    policy.dispose();
  });

  it('eval.atEnds draws a larger evaluation at step 0 and at the last step only, equal to a regular one of that size', async () => {
    const evalRows = async (evalConfig: Record<string, unknown>) => {
      const { policy, options } = setup();
      const base = options.config!.eval!;
      const trainer = createTrainer({ ...options, config: { ...options.config, eval: { ...base, ...evalConfig } } });
      const { evals } = await trainer.run();
      trainer.dispose();
      policy.dispose();
      return evals.map(withoutTimes);
    };
    const plain = await evalRows({});
    const large = await evalRows({ samplesPerPrompt: 16, k: [1, 4, 16] });
    const ends = await evalRows({ atEnds: { samplesPerPrompt: 16, k: [1, 4, 16] } });
    expect(ends.map((r) => r.step)).toEqual([0, 2, 4]);
    // Evaluations draw from their own random stream, so training (and the policy at each step) is
    // the same in all three runs: the end evaluations are exactly 16-sample ones.
    expect(ends[0]).toEqual(large[0]);
    expect(ends[0]).toHaveProperty('eval/pass@16');
    expect(ends[0]).not.toHaveProperty('eval/avg@4');
    expect(ends[1]).toEqual(plain[1]);
    expect(ends[2]).toEqual(large[2]);
    expect(ends[2]).toHaveProperty('eval/avg@16');
    expect(ends[1]).not.toHaveProperty('eval/pass@16');
    const { policy, options } = setup();
    expect(() => createTrainer({ ...options, config: { eval: { atEnds: { samplesPerPrompt: 8, k: [1, 16] } } } })).toThrow(/eval\.atEnds\.k\.1|atEnds/);
    policy.dispose();
  });
});
