import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type PromptRecord } from '@rftkit/core';
import { selectBackend } from '@rftkit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigramEngine, BigramPolicy, charReward, charTokenizer, groupAdvantage, ppoClipLoss, tokenMean } from '@rftkit/test-kit';
import type { SampleRow } from './samples';
import { drawPrompts } from './stages/rollout';
import { createTrainer, resumeTrainer, type TrainerOptions } from './trainer';

const tok = charTokenizer('ab');
const prompts: PromptRecord[] = Array.from({ length: 6 }, (_, i) => ({ id: `p${i}`, prompt: i % 2 ? 'ab' : 'ba', reference: `r${i}` }));
const testPrompts = prompts.slice(0, 3);
const SEED = 5;

// The bigram policy's weights as JSON (the default policy store needs a real Policy).
const weightsIO: NonNullable<TrainerOptions['policyIO']> = {
  save: async (dir, policy) => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'w.json'), JSON.stringify(Array.from(policy.getWeights().w!.values)));
  },
  load: async (dir, policy) => {
    const values = Float32Array.from(JSON.parse(await readFile(join(dir, 'w.json'), 'utf8')) as number[]);
    policy.setWeights({ w: { shape: [tok.vocabSize, tok.vocabSize], values } });
  },
};

function setup(outDir: string, config: Record<string, unknown> = {}, extra: Partial<TrainerOptions> = {}) {
  const policy = new BigramPolicy(tok, 2);
  const options: TrainerOptions = {
    policy,
    engine: new BigramEngine(policy),
    trainPrompts: prompts,
    testPrompts,
    reward: charReward('a'),
    advantage: groupAdvantage,
    loss: ppoClipLoss,
    aggregator: tokenMean,
    config: {
      steps: 4,
      seed: SEED,
      promptsPerStep: 3,
      samplesPerPrompt: 4,
      miniBatchSamples: 12,
      microBatchSamples: 12,
      sampling: { maxNewTokens: 5 },
      optimizer: { lr: 0.05 },
      eval: { every: 2, samplesPerPrompt: 2, k: [1, 2], chunkPrompts: 2, sampling: { maxNewTokens: 5 } },
      samplesEvery: 2,
      samples: { perStep: 2, perEval: 3 },
      checkpointEvery: 2,
      ...config,
    },
    outDir,
    policyIO: weightsIO,
    ...extra,
  };
  return { policy, options };
}

async function readSamples(dir: string): Promise<SampleRow[]> {
  const text = await readFile(join(dir, 'samples.jsonl'), 'utf8');
  return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as SampleRow);
}

let dir: string;
beforeAll(async () => {
  await selectBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'rftkit-samples-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('samples.jsonl', () => {
  it('logs a few rows per sampled step and per evaluation, each with its prompt, reward and length', async () => {
    const out = join(dir, 'run');
    const { policy, options } = setup(out);
    const events: string[] = [];
    const before = tf.memory().numTensors;
    const trainer = createTrainer({ ...options, onEvent: (e) => e.type === 'samples' && events.push(`${e.split}@${e.step}:${e.rows.length}`) });
    await trainer.run();
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();

    const rows = await readSamples(out);
    expect(rows.map((r) => `${r.split}@${r.step}`)).toEqual([
      'eval@0', 'eval@0', 'eval@0',
      'train@2', 'train@2', 'eval@2', 'eval@2', 'eval@2',
      'train@4', 'train@4', 'eval@4', 'eval@4', 'eval@4',
    ]);
    expect(events).toEqual(['eval@0:3', 'train@2:2', 'eval@2:3', 'train@4:2', 'eval@4:3']);
    for (const step of [2, 4]) {
      // The first response of each of the step's first two prompts, as the trainer draws them.
      const drawn = drawPrompts(prompts, 3, SEED, step).slice(0, 2);
      const train = rows.filter((r) => r.split === 'train' && r.step === step);
      expect(train.map((r) => [r.promptId, r.prompt, r.reference])).toEqual(drawn.map((p) => [p.id, p.prompt, p.reference]));
    }
    // Evaluation rows span chunks (chunkPrompts 2): test prompts 0, 1 and 2.
    for (const step of [0, 2, 4]) {
      expect(rows.filter((r) => r.split === 'eval' && r.step === step).map((r) => r.promptId)).toEqual(['p0', 'p1', 'p2']);
    }
    for (const r of rows) {
      // charReward('a'): the fraction of the completion's characters that are 'a'.
      const expected = r.completion.length ? [...r.completion].filter((c) => c === 'a').length / r.completion.length : 0;
      expect(r.reward).toBeCloseTo(expected, 6);
      // One token per character, plus the stop token when the response stopped (special
      // tokens the bigram samples mid-response count but decode to nothing); at most maxNewTokens.
      expect(r.length).toBeGreaterThanOrEqual(r.completion.length + (r.finishReason === 'stop' ? 1 : 0));
      expect(r.length).toBeLessThanOrEqual(5);
      if (r.finishReason === 'length') expect(r.length).toBe(5);
      expect(r.temperature).toBe(1);
    }
  });

  it('a resumed run rewrites the same rows as an uninterrupted one', async () => {
    const full = join(dir, 'full');
    const a = setup(full, { samplesEvery: 1 });
    const ta = createTrainer(a.options);
    await ta.run();
    ta.dispose();
    a.policy.dispose();

    const out = join(dir, 'resumed');
    const b = setup(out, { samplesEvery: 1 });
    const tb = createTrainer({ ...b.options, onEvent: (e) => e.type === 'step' && e.step === 2 && tb.requestStop() });
    await tb.run();
    await tb.step(); // step 3 logged past the checkpoint at 2, as if the run died before its next save
    expect((await readSamples(out)).some((r) => r.step === 3)).toBe(true);
    tb.dispose();
    b.policy.dispose();
    const c = setup(out, { samplesEvery: 1 });
    const tc = await resumeTrainer(c.options);
    await tc.run();
    tc.dispose();
    c.policy.dispose();
    expect(await readSamples(out)).toEqual(await readSamples(full));
  });

  it('stops growing at samples.maxBytes, keeping whole rows', async () => {
    const out = join(dir, 'capped');
    const uncapped = await readSamples(join(dir, 'run'));
    const messages: string[] = [];
    const { policy, options } = setup(out, { samples: { perStep: 2, perEval: 3, maxBytes: 1000 } }, { onEvent: (e) => e.type === 'log' && messages.push(e.message) });
    const trainer = createTrainer(options);
    await trainer.run();
    trainer.dispose();
    policy.dispose();
    const rows = await readSamples(out);
    expect((await stat(join(out, 'samples.jsonl'))).size).toBeLessThanOrEqual(1000);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows).toEqual(uncapped.slice(0, rows.length));
    expect(messages.filter((m) => m.includes('samples.jsonl reached trainer.samples.maxBytes (1000 bytes)'))).toHaveLength(1);
  });

  it('rejects bad sample options naming the field', () => {
    const { policy, options } = setup(join(dir, 'bad'), { samplesEvery: -1 });
    expect(() => createTrainer(options)).toThrow(ConfigError);
    expect(() => createTrainer(options)).toThrow(/samplesEvery/);
    const bad = setup(join(dir, 'bad'), { samples: { perStep: 2, maxRows: 3 } });
    expect(() => createTrainer(bad.options)).toThrow(/samples.*unknown field; allowed: perStep, perEval, maxBytes/s);
    policy.dispose();
    bad.policy.dispose();
  });
});
