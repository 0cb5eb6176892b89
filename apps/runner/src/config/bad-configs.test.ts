import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readConfigFile } from './load';
import { loadRunConfig, loadRunConfigObject } from './run-config';

const configs = join(dirname(fileURLToPath(import.meta.url)), '../../../../configs');
const runConfigs = readdirSync(configs).filter((f) => f.endsWith('.yaml') && !f.startsWith('sft-'));

describe('shipped configs', () => {
  it.each(runConfigs)('%s loads under the strict schemas', async (file) => {
    await expect(loadRunConfig(join(configs, file))).resolves.toBeDefined();
  });
});

// biome-ignore lint/suspicious/noExplicitAny: rows reach into the parsed YAML freely
type Raw = Record<string, any>;
const rows: [string, (c: Raw) => void, string][] = [
  ['top level', (c) => (c.sed = 1), 'sed'],
  ['task', (c) => (c.task.wth = {}), 'wth'],
  ['policy', (c) => (c.policy.checkpint = 'x'), 'checkpint'],
  ['data', (c) => (c.data.trainPrompt = 10), 'trainPrompt'],
  ['advantage with', (c) => (c.advantage = { use: 'grpo', with: { epss: 1 } }), 'epss'],
  ['loss with', (c) => (c.loss.with.clipLo = 0.1), 'clipLo'],
  ['aggregation with', (c) => (c.aggregation = { use: 'token-mean', with: { mod: 1 } }), 'mod'],
  ['regularizer with', (c) => (c.regularizers[0].with.targetEntropie = 0.5), 'targetEntropie'],
  ['task with', (c) => (c.task = { use: 'countdown', with: { numbrs: 3 } }), 'numbrs'],
  ['reward with', (c) => (c.reward = { use: 'exact-match', with: { trimm: true } }), 'trimm'],
  [
    'nested sampler',
    (c) => (c.regularizers = [{ use: 'target-reinforce', with: { target: { use: 'mixture', with: { temperatures: [1], weigths: [1] } } } }]),
    'weigths',
  ],
  ['trainer scoring', (c) => (c.trainer.scoring = { maxFaildSteps: 1 }), 'maxFaildSteps'],
  ['trainer scoring value', (c) => (c.trainer.scoring = { maxFailedSteps: -1 }), 'trainer.scoring.maxFailedSteps'],
  ['data below promptsPerStep', (c) => (c.data.trainPrompts = 1), 'trainer.promptsPerStep'],
];

describe('bad configs', () => {
  it.each(rows)('a typo in %s fails naming the field', async (_name, mutate, needle) => {
    const raw = (await readConfigFile(join(configs, 'default.yaml'))) as Raw;
    mutate(raw);
    const err = await loadRunConfigObject(raw, join(configs, 'bad.yaml')).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err, 'expected the config to be rejected').toBeDefined();
    expect((err as { code?: string }).code).toMatch(/^E_(CONFIG|OPTIONS)$/);
    expect(err!.message).toContain(needle);
  });
});
