import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@rftkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEval } from './commands/eval';
import { runSft } from './commands/sft';
import type { CliIO } from './io';

const config = resolve(dirname(fileURLToPath(import.meta.url)), '../../../configs/sft-countdown.yaml');
const backend = process.env.RFTKIT_RUNNER_TEST_BACKEND ?? 'wasm';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rft-sft-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('rft sft / rft eval', () => {
  it('trains on solver solutions, saves the policy with sft.json, and eval reads it back', async () => {
    const out = join(root, 'base');
    const lines: string[] = [];
    const io: CliIO = { out: (t) => lines.push(t), err: () => {} };
    const result = await runSft(
      config,
      {
        sets: ['data.prompts=12', 'sft.steps=3', 'sft.examplesPerStep=4', 'eval.prompts=3', 'eval.samplesPerPrompt=2', 'eval.k=[1, 2]'],
        out,
        backend,
      },
      io,
    );
    expect(result.losses).toHaveLength(3);
    expect(existsSync(join(out, 'policy.json'))).toBe(true);
    const sft = JSON.parse(await readFile(join(out, 'sft.json'), 'utf8'));
    expect(sft.task.use).toBe('countdown');
    expect(sft.examples).toBe(12 * result.config.data.solutionsPerPrompt);
    expect(Object.keys(sft.eval.passAtK)).toEqual(['pass@1', 'pass@2']);
    expect(lines.join('\n')).toMatch(/^pass@1\s+\d+\.\d%$/m);

    const evalLines: string[] = [];
    const evaluated = await runEval(out, { samples: 2, k: [1, 2, 4], prompts: 3, backend }, { out: (t) => evalLines.push(t), err: () => {} });
    // pass@4 needs n ≥ 4 samples, so it is not reported.
    expect(Object.keys(evaluated.passAtK)).toEqual(['pass@1', 'pass@2']);
    expect(evaluated.passAtK['pass@1']).toBeCloseTo(evaluated.avgAtN, 10);
    expect(evaluated.passAtK['pass@2']!).toBeGreaterThanOrEqual(evaluated.passAtK['pass@1']!);
    expect(evalLines.join('\n')).toMatch(/^avg@2\s+\d+\.\d%$/m);
  });

  it('refuses to overwrite an existing policy folder without --force, naming the folder and the flag', async () => {
    const out = join(root, 'existing');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'policy.json'), '{"kept": true}\n');
    const err = await runSft(config, { sets: ['sft.steps=1'], out, backend }, { out: () => {}, err: () => {} }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain(out);
    expect(err.message).toContain('--force');
    expect(await readFile(join(out, 'policy.json'), 'utf8')).toBe('{"kept": true}\n');
  });

  it('rejects an sft config with a bad field', async () => {
    await expect(runSft(config, { sets: ['sft.stepz=3'], backend }, { out: () => {}, err: () => {} })).rejects.toThrow(
      /allowed at 'sft': steps, examplesPerStep, learningRate/,
    );
  });
});
