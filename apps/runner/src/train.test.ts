import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEval } from './commands/eval';
import { runTrain } from './commands/train';
import type { CliIO } from './io';

const configsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../configs');
const presets = readdirSync(configsDir)
  .filter((f) => f.endsWith('.yaml') && !f.startsWith('sft-'))
  .sort();
const backend = process.env.RFTKIT_RUNNER_TEST_BACKEND ?? 'wasm';

/** Tiny sizes, applied with the same `--set` overrides a user would type. */
const TINY = [
  'data.trainPrompts=16',
  'data.testPrompts=4',
  'trainer.steps=2',
  'trainer.promptsPerStep=2',
  'trainer.samplesPerPrompt=4',
  'trainer.miniBatchSamples=8',
  'trainer.microBatchSamples=8',
  'trainer.sampling.maxNewTokens=10',
  'trainer.eval.every=1',
  'trainer.eval.prompts=4',
  'trainer.eval.samplesPerPrompt=2',
  'trainer.eval.k=[1, 2]',
  'trainer.eval.sampling.maxNewTokens=10',
];

const quiet: CliIO = { out: () => {}, err: () => {} };

async function readJsonl(path: string): Promise<Array<Record<string, number>>> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, number>);
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rft-train-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('rft train', () => {
  it('ships the presets', () => {
    expect(presets).toEqual(
      expect.arrayContaining(['aepo.yaml', 'clip-higher.yaml', 'dcpo.yaml', 'default.yaml', 'dr-grpo.yaml', 'entropy-adv.yaml', 'entropy-reg.yaml', 'grpo.yaml', 'kl-cov.yaml', 'rloo.yaml']),
    );
  });

  it.each(presets)('%s trains 2 steps and writes a complete run folder', async (preset) => {
    const out = join(root, preset.replace('.yaml', ''));
    const lines: string[] = [];
    const io: CliIO = { out: (t) => lines.push(t), err: () => {} };
    const result = await runTrain(join(configsDir, preset), { sets: TINY, out, backend }, io);
    expect(result.summary.steps).toBe(2);
    expect(result.summary.stopped).toBe(false);
    const metrics = await readJsonl(join(out, 'metrics.jsonl'));
    expect(metrics.map((m) => m.step)).toEqual([1, 2]);
    for (const m of metrics) {
      for (const key of ['reward/mean', 'entropy/exact', 'entropy/nll']) expect(Number.isFinite(m[key])).toBe(true);
    }
    const evals = await readJsonl(join(out, 'eval.jsonl'));
    expect(evals.map((e) => e.step)).toEqual([0, 1, 2]);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.trainer.steps).toBe(2);
    expect(config.backend).toBe(backend);
    expect((await readFile(join(out, 'checkpoints', 'latest'), 'utf8')).trim()).toBe('step-000002');
    const charts = readdirSync(join(out, 'charts')).sort();
    const controller = config.regularizers.find((r: { use: string }) => r.use === 'aepo' || r.use === 'dcpo');
    if (controller) expect(Number.isFinite(metrics[0]![`${controller.use}/temperature`])).toBe(true);
    const curated = ['entropy.svg', 'pass-at-k.svg', 'reward.svg', ...(controller ? ['temperature.svg'] : [])];
    // Every logged group of metrics (key prefix) has its chart.
    const groups = new Set(metrics.flatMap((m) => Object.keys(m)).filter((k) => k.includes('/')).map((k) => `group-${k.slice(0, k.indexOf('/'))}.svg`));
    expect(charts).toEqual(expect.arrayContaining([...curated, ...groups, 'group-train.svg']));
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    const meta = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(meta).toMatchObject({ format: 1, status: 'finished', steps: 2, stepsDone: 2, seed: config.seed, backend });
    const samples = await readJsonl(join(out, 'samples.jsonl'));
    // eval at 0, 1, 2 (4 test prompts each); training samples only every 10 steps by default.
    expect(samples.map((r) => r.step)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    const printed = lines.join('\n');
    expect(printed).toMatch(/^reward\/mean\s/m);
    expect(printed).toMatch(/^eval\/pass@1\s/m);
    expect(printed).toContain(`report: `);
  });

  // On-policy local rollouts: the behaviour log-probs are the trainer's, so the mismatch
  // metrics are ≈ 0 and every rollout correction leaves the run unchanged, on the shipped base.
  it('every rollout correction on the shipped base changes nothing on-policy; mismatch metrics ≈ 0', async () => {
    const run = async (name: string, extra: string[]) => {
      const out = join(root, name);
      await runTrain(join(configsDir, 'grpo.yaml'), { sets: [...TINY, 'trainer.eval.every=0', ...extra], out, backend }, quiet);
      return readJsonl(join(out, 'metrics.jsonl'));
    };
    const plain = await run('corrections-off', []);
    const corrected = await run('corrections-on', [
      'trainer.rolloutCorrection.tokenIs=true',
      'trainer.rolloutCorrection.seqMask=true',
      'trainer.rolloutCorrection.tokenMask=true',
    ]);
    const comparable = (m: Record<string, number>) =>
      Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('time/') && !k.endsWith('_per_s') && !k.startsWith('rollout_correction/')));
    expect(corrected.map(comparable)).toEqual(plain.map(comparable));
    for (const m of corrected) {
      expect(m['rollout/logp_abs_diff']).toBeLessThan(1e-5);
      expect(Math.abs(m['rollout/kl']!)).toBeLessThan(1e-6);
      expect(m['rollout/ratio_outside_frac']).toBe(0);
      expect(m['rollout_correction/weight_mean']).toBeCloseTo(1, 5);
      expect(m['rollout_correction/masked_token_frac']).toBe(0);
    }
  });

  it('stops on abort with a checkpoint, resumes from it, and matches an uninterrupted run', async () => {
    const straight = join(root, 'straight');
    await runTrain(join(configsDir, 'grpo.yaml'), { sets: [...TINY, 'trainer.eval.every=0'], out: straight, backend }, quiet);
    // `rft eval` on a run folder: its latest checkpoint, task and seed from config.json.
    const evaluated = await runEval(straight, { samples: 2, k: [1, 2], prompts: 2, backend }, quiet);
    expect(evaluated.prompts).toBe(2);
    expect(Object.keys(evaluated.passAtK)).toEqual(['pass@1', 'pass@2']);

    const resumed = join(root, 'resumed');
    const controller = new AbortController();
    const first = await runTrain(
      join(configsDir, 'grpo.yaml'),
      {
        sets: [...TINY, 'trainer.eval.every=0'],
        out: resumed,
        backend,
        signal: controller.signal,
        // Abort (as the first Ctrl-C does) once step 1 is logged.
        progress: { start() {}, update: () => controller.abort(), log() {}, stop() {} },
      },
      quiet,
    );
    expect(first.summary.stopped).toBe(true);
    expect(first.summary.steps).toBe(1);
    expect((await readFile(join(resumed, 'checkpoints', 'latest'), 'utf8')).trim()).toBe('step-000001');

    // Without --resume an existing run folder is refused.
    await expect(runTrain(join(configsDir, 'grpo.yaml'), { sets: TINY, out: resumed, backend }, quiet)).rejects.toThrow(/--resume/);
    // A resumed run may not change the composition.
    await expect(
      runTrain(join(configsDir, 'grpo.yaml'), { sets: [...TINY, 'trainer.eval.every=0', 'advantage.use=rloo'], out: resumed, backend, resume: true }, quiet),
    ).rejects.toThrow(/advantage\.use: is "rloo" here but "grpo" in the run's config\.json/);

    const second = await runTrain(
      join(configsDir, 'grpo.yaml'),
      { sets: [...TINY, 'trainer.eval.every=0'], out: resumed, backend, resume: true },
      quiet,
    );
    expect(second.summary.steps).toBe(2);
    const a = await readJsonl(join(straight, 'metrics.jsonl'));
    const b = await readJsonl(join(resumed, 'metrics.jsonl'));
    expect(b.map((m) => m.step)).toEqual([1, 2]);
    for (const key of ['reward/mean', 'entropy/exact', 'entropy/nll', 'response/len_mean']) {
      expect(b[1]![key]).toBeCloseTo(a[1]![key]!, 5);
    }
  });
});
