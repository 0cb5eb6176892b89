import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '@rftkit/core';
import { runTrain } from './commands/train';
import type { CliIO } from './io';

const quiet: CliIO = { out: () => {}, err: () => {} };
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rft-budget-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh policy with a 24-token context (char tokenizer, plus BOS/EOS at most) on a JSONL task. */
async function writeRun(rows: Array<{ id: string; prompt: string; answer: string }>, maxNewTokens: number): Promise<string> {
  const data = join(root, `data-${maxNewTokens}-${rows.length}.jsonl`);
  await writeFile(data, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const test = join(root, 'test.jsonl');
  await writeFile(test, `${JSON.stringify(short(1))}\n`);
  const config = join(root, `run-${maxNewTokens}-${rows.length}.yaml`);
  await writeFile(
    config,
    [
      'backend: cpu',
      `task: { use: jsonl, with: { path: ${JSON.stringify(data)}, idField: id, testPath: ${JSON.stringify(test)} } }`,
      'policy: { use: transformer, with: { dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 24 } }',
      // Every train row is drawn (the pool has 31), so the long one is among them.
      'data: { trainPrompts: 40, testPrompts: 0 }',
      'advantage: { use: grpo }',
      'trainer:',
      '  steps: 1',
      '  promptsPerStep: 2',
      '  samplesPerPrompt: 2',
      '  miniBatchSamples: 4',
      '  microBatchSamples: 4',
      `  sampling: { maxNewTokens: ${maxNewTokens} }`,
      '  eval: { every: 0 }',
      '',
    ].join('\n'),
  );
  return config;
}

const short = (i: number) => ({ id: `ok-${i}`, prompt: `${i}+1=`, answer: String(i + 1) });

describe('prompt lengths against the policy context', () => {
  it('a row longer than maxSeqLen − maxNewTokens fails at start, naming the row', async () => {
    const rows = [...Array.from({ length: 30 }, (_, i) => short(i)), { id: 'too-long', prompt: '1+2+3+4+5+6+7=', answer: '28' }];
    const config = await writeRun(rows, 12);
    const run = runTrain(config, { out: join(root, 'out-long') }, quiet);
    await expect(run).rejects.toThrow(DatasetError);
    await expect(runTrain(config, { out: join(root, 'out-long2') }, quiet)).rejects.toThrow(/prompt 'too-long' is \d+ tokens, longer than the \d+/);
  });

  it('maxNewTokens that fills the whole context is a config error on that field', async () => {
    const config = await writeRun(Array.from({ length: 30 }, (_, i) => short(i)), 24);
    await expect(runTrain(config, { out: join(root, 'out-full') }, quiet)).rejects.toThrow(/trainer\.sampling\.maxNewTokens/);
  });
});
