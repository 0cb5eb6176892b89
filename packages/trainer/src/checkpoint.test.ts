import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, type Metrics } from '@rftkit/core';
import { selectBackend } from '@rftkit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BigramEngine, BigramPolicy, charReward, groupAdvantage, ppoClipLoss, tokenMean } from '@rftkit/test-kit';
import { testPrompts, testTokenizer as tok } from './testing/parts';
import { createTrainer, resumeTrainer, type TrainerOptions } from './trainer';

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

/** A 4-step bigram run evaluating every 2 steps; `failEval` makes the evaluation at that step throw once. */
function setup(outDir: string, config: Record<string, unknown> = {}, failEval?: number) {
  const policy = new BigramPolicy(tok, 1);
  const engine = new BigramEngine(policy);
  let failed = false;
  const generate = engine.generate.bind(engine);
  engine.generate = async (req) => {
    if (req.stream === 'eval' && req.step === failEval && !failed) {
      failed = true;
      throw new Error('killed during the evaluation');
    }
    return generate(req);
  };
  const options: TrainerOptions = {
    policy,
    engine,
    trainPrompts: testPrompts,
    testPrompts: testPrompts.slice(0, 2),
    reward: charReward('a'),
    advantage: groupAdvantage,
    loss: ppoClipLoss,
    aggregator: tokenMean,
    config: {
      steps: 4,
      seed: 3,
      promptsPerStep: 3,
      samplesPerPrompt: 4,
      miniBatchSamples: 6,
      microBatchSamples: 3,
      sampling: { maxNewTokens: 5 },
      eval: { every: 2, samplesPerPrompt: 4, k: [1, 4], threshold: 0.5, sampling: { maxNewTokens: 5 } },
      checkpointEvery: 1,
      keepCheckpoints: 10,
      ...config,
    },
    outDir,
    policyIO: weightsIO,
  };
  return { policy, options };
}

const withoutTimes = (m: Record<string, unknown>) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('time/') && !k.includes('per_s')));
const rows = async (out: string, name: string) =>
  (await readFile(join(out, name), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => withoutTimes(JSON.parse(l) as Metrics));

async function errorOf(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected an error');
    },
    (e: unknown) => e as Error,
  );
}

let root: string;
beforeAll(async () => {
  await selectBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'rftkit-ckpt-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function finishedRun(name: string, config: Record<string, unknown> = {}) {
  const out = join(root, name);
  const { policy, options } = setup(out, config);
  const t = createTrainer(options);
  await t.run();
  t.dispose();
  return { out, policy, options, ckpt: (step: number) => join(out, 'checkpoints', `step-${String(step).padStart(6, '0')}`) };
}

describe('trainer checkpoints', () => {
  it('a bit flip in optimizer.bin or a garbage offset in optimizer.json fails naming the file', async () => {
    const { options, ckpt } = await finishedRun('flip');
    const bin = join(ckpt(4), 'optimizer.bin');
    const good = await readFile(bin);
    const flipped = Buffer.from(good);
    flipped[5] = flipped[5]! ^ 0x01;
    await writeFile(bin, flipped);
    let e = await errorOf(resumeTrainer(options));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toMatch(/optimizer\.bin: checksum [0-9a-f]+ does not match optimizer\.json's [0-9a-f]+ \(corrupt\)/);
    await writeFile(bin, good);
    const jsonPath = join(ckpt(4), 'optimizer.json');
    const meta = JSON.parse(await readFile(jsonPath, 'utf8'));
    meta.slots[0].offset = 7;
    await writeFile(jsonPath, JSON.stringify(meta));
    e = await errorOf(resumeTrainer(options));
    expect(e.message).toMatch(/optimizer\.json: slots\[0\] \('bigram_w_\d+'\) has offset 7, expected 0/);
  });

  it('checkpoints without a checksum still load; NaN moments name the optimizer state', async () => {
    const { options, ckpt } = await finishedRun('legacy');
    const jsonPath = join(ckpt(4), 'optimizer.json');
    const meta = JSON.parse(await readFile(jsonPath, 'utf8'));
    delete meta.sha256;
    await writeFile(jsonPath, JSON.stringify(meta));
    const t = await resumeTrainer(options);
    expect(t.state.step).toBe(4);
    t.dispose();
    const bin = join(ckpt(4), 'optimizer.bin');
    const values = new Float32Array((await readFile(bin)).buffer.slice(0));
    values[2] = Number.NaN;
    await writeFile(bin, new Uint8Array(values.buffer));
    const e = await errorOf(resumeTrainer(options));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toMatch(/optimizer state of 'bigram_w_\d+' holds first moment m\[2\] = NaN; Adam moments must be finite/);
  });

  it('a trainer-state step that disagrees with the folder name is an error, not a rewind', async () => {
    const { options, ckpt } = await finishedRun('rewind');
    const path = join(ckpt(4), 'trainer-state.json');
    const state = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...state, step: 2, history: state.history.slice(0, 2) }));
    const e = await errorOf(resumeTrainer(options));
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toMatch(/trainer-state\.json: 'step' is 2 but the folder is step-000004/);
  });

  it('a garbage history or evals is a CheckpointError naming the field', async () => {
    const { options, ckpt } = await finishedRun('garbage');
    const path = join(ckpt(4), 'trainer-state.json');
    const state = JSON.parse(await readFile(path, 'utf8'));
    const cases: Array<[unknown, RegExp]> = [
      [{ ...state, history: [1, 2, 3, 4] }, /'history\[0\]' must be an object of metrics/],
      [{ ...state, history: state.history.slice(1) }, /'history' has 3 rows but 'step' is 4/],
      [{ ...state, history: state.history.map((r: Metrics, i: number) => (i === 1 ? { ...r, loss: 'x' } : r)) }, /'history\[1\]' has 'loss' = "x"/],
      [{ ...state, history: [...state.history].reverse() }, /'history\[0\]' has step 4; .* \(expected 1\)/],
      [{ ...state, evals: [{ step: 9 }] }, /'evals\[0\]' has step 9; expected an integer in 0\.\.4/],
    ];
    for (const [bad, message] of cases) {
      await writeFile(path, JSON.stringify(bad));
      const e = await errorOf(resumeTrainer(options));
      expect(e).toBeInstanceOf(CheckpointError);
      expect(e.message).toMatch(message);
    }
  });

  it('folders of interrupted checkpoint writes are cleaned on the next run', async () => {
    const { out, options } = await finishedRun('tmp');
    const dir = join(out, 'checkpoints');
    await mkdir(join(dir, '.step-000005.a1b2c3.tmp', 'policy'), { recursive: true });
    // Interrupted between moving step-000004 aside and moving its new copy in.
    const { rename } = await import('node:fs/promises');
    await rename(join(dir, 'step-000004'), join(dir, '.step-000004.d4e5f6.old'));
    const logs: string[] = [];
    const t = await resumeTrainer({ ...options, onEvent: (e) => e.type === 'log' && logs.push(e.message) });
    expect(t.state.step).toBe(4);
    t.dispose();
    expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(logs.filter((m) => m.includes('interrupted checkpoint write'))).toHaveLength(2);
  });
});

describe('evaluation and resume', () => {
  it('a kill during the evaluation after a checkpoint redoes that evaluation on resume', async () => {
    const full = await finishedRun('uninterrupted');
    const evalFull = await rows(full.out, 'eval.jsonl');
    expect(evalFull.map((r) => r.step)).toEqual([0, 2, 4]);

    const out = join(root, 'killed');
    const first = setup(out, {}, 2);
    const t1 = createTrainer(first.options);
    expect((await errorOf(t1.run())).message).toMatch(/killed during the evaluation/);
    t1.dispose();
    // The evaluation runs before the step's checkpoint, so the latest checkpoint is step 1.
    expect((await readFile(join(out, 'checkpoints', 'latest'), 'utf8')).trim()).toBe('step-000001');
    const second = setup(out);
    const t2 = await resumeTrainer(second.options);
    await t2.run();
    t2.dispose();
    expect(await rows(out, 'eval.jsonl')).toEqual(evalFull);
    expect(await rows(out, 'metrics.jsonl')).toEqual(await rows(full.out, 'metrics.jsonl'));
  });

  it('resuming a finished run appends no evaluation row, also from a checkpoint that lacks the final one', async () => {
    const { out, options, ckpt } = await finishedRun('finished');
    const before = await rows(out, 'eval.jsonl');
    const again = await resumeTrainer(options);
    const summary = await again.run();
    again.dispose();
    expect(summary.steps).toBe(4);
    expect(await rows(out, 'eval.jsonl')).toEqual(before);
    // A final checkpoint written before its evaluation (as older trainers did).
    const path = join(ckpt(4), 'trainer-state.json');
    const state = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...state, evals: state.evals.slice(0, -1) }));
    const legacy = await resumeTrainer(options);
    await legacy.run();
    legacy.dispose();
    expect(await rows(out, 'eval.jsonl')).toEqual(before);
    const saved = JSON.parse(await readFile(path, 'utf8'));
    expect(saved.evals.map((r: Metrics) => r.step)).toEqual([0, 2, 4]);
  });
});
