import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AdvantageEstimator, ConfigError, defineComponent, Registry } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseOverride } from './overrides';
import type { RegistrySet } from './resolve';
import { loadRunConfigObject } from './run-config';
import { parsePath } from './schema-walk';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '__fixtures__');

// Small registries with known ids and schemas, so the expected messages are exact.
function registries(): RegistrySet {
  const def = (family: 'task' | 'advantage' | 'loss' | 'aggregation' | 'regularizer', id: string, schema: z.ZodType) =>
    defineComponent({ id, family, description: `${id} test component`, schema, build: (o) => ({ id, o }) });
  return {
    task: new Registry('task', [def('task', 'countdown', z.object({ numbers: z.number().int().min(2).max(6).default(4) }))]),
    reward: new Registry('reward'),
    advantage: new Registry('advantage', [
      def('advantage', 'grpo', z.object({ eps: z.number().positive().default(1e-6) })),
      def('advantage', 'rloo', z.object({})),
    ]),
    loss: new Registry('loss', [def('loss', 'ppo-clip', z.object({ clipLow: z.number().default(0.2) }))]),
    aggregation: new Registry('aggregation', [
      def('aggregation', 'token-mean', z.object({ mode: z.enum(['a', 'b']).default('a') })),
    ]),
    kl: new Registry('kl'),
    regularizer: new Registry('regularizer', [
      def('regularizer', 'aepo', z.object({ targetEntropy: z.number().min(0).default(0.75), rule: z.enum(['binary', 'continuous']).default('binary') })),
    ]),
    sampler: new Registry('sampler'),
  };
}

const base = () => ({
  seed: 3,
  task: { use: 'countdown' },
  policy: { use: 'transformer', with: { dModel: 32, nHeads: 2 } },
  regularizers: [{ use: 'aepo', with: { targetEntropy: 0.5 } }],
  trainer: { steps: 5 },
});

async function configError(raw: Record<string, unknown>, sets: string[] = []): Promise<ConfigError> {
  try {
    await loadRunConfigObject(raw, 'test.yaml', { registries: registries(), sets });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('run config', () => {
  it('fills every default and parses component options', async () => {
    const { config, name } = await loadRunConfigObject(base(), 'dir/my-run.yaml', { registries: registries() });
    expect(name).toBe('my-run');
    expect(config.seed).toBe(3);
    expect(config.trainer.seed).toBe(3);
    expect(config.backend).toBe('auto');
    expect(config.advantage).toEqual({ use: 'grpo', with: { eps: 1e-6 } });
    expect(config.task.with).toEqual({ numbers: 4 });
    expect(config.regularizers[0]!.with).toEqual({ targetEntropy: 0.5, rule: 'binary' });
    expect(config.trainer.steps).toBe(5);
    expect(config.trainer.promptsPerStep).toBe(8);
    expect(config.policy).toMatchObject({ use: 'transformer', with: { dModel: 32, nHeads: 2, nLayers: 2, dFF: 128 } });
  });

  it('accepts an hf policy, resolves its model folder against the config file, and names a missing one', async () => {
    const source = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'x.yaml');
    const model = '../../packages/policy/src/__fixtures__/hf/qwen3';
    const { config } = await loadRunConfigObject({ ...base(), policy: { use: 'hf', with: { model } } }, source, { registries: registries() });
    expect(config.policy).toEqual({ use: 'hf', with: { model: join(dirname(source), model), download: false } });
    const missing = await configError({ ...base(), policy: { use: 'hf', with: { model: './no-such-model' } } });
    expect(missing.issues.map((i) => i.path)).toEqual(['policy.with.model']);
    const extra = await configError({ ...base(), policy: { use: 'hf', with: { model: 'hf:a/b', modle: 1 } } });
    expect(extra.issues[0]!.path).toBe('policy.with.modle');
    const hub = await loadRunConfigObject({ ...base(), policy: { use: 'hf', with: { model: 'hf:a/b' } } }, 'x.yaml', { registries: registries() });
    expect(hub.config.policy).toEqual({ use: 'hf', with: { model: 'hf:a/b', download: false } });
  });

  it('rejects an unknown component id and lists the available ones', async () => {
    const e = await configError({ ...base(), advantage: { use: 'grpoo' } });
    expect(e.code).toBe('E_CONFIG');
    expect(e.issues).toEqual([{ path: 'advantage.use', message: "unknown advantage 'grpoo'; available: grpo, rloo" }]);
    const reg = await configError({ ...base(), regularizers: [{ use: 'aepo' }, { use: 'entropy' }] });
    expect(reg.issues[0]!.path).toBe('regularizers[1].use');
    expect(reg.issues[0]!.message).toContain('available: aepo');
  });

  it('names the path of each bad field and what is allowed', async () => {
    const e = await configError({
      ...base(),
      backend: 'gpu',
      trainr: {},
      trainer: { steps: -1, optimizer: { name: 'sgd' } },
      regularizers: [{ use: 'aepo', with: { rule: 'step', targt: 1 } }],
    });
    const byPath = Object.fromEntries(e.issues.map((i) => [i.path, i.message]));
    expect(byPath.backend).toMatch(/auto.*tensorflow.*wasm.*cpu/);
    expect(byPath.trainr).toMatch(/^unknown field; allowed: .*trainer/);
    expect(byPath['trainer.steps']).toMatch(/>=\s*0/);
    expect(byPath['trainer.optimizer.name']).toMatch(/adam.*adamw/);
    // Component options alone.
    const opts = await configError({ ...base(), regularizers: [{ use: 'aepo', with: { rule: 'step', targt: 1 } }] });
    const o = Object.fromEntries(opts.issues.map((i) => [i.path, i.message]));
    expect(o['regularizers[0].with.targt']).toBe("unknown option of regularizer 'aepo'; allowed: targetEntropy, rule");
    expect(o['regularizers[0].with.rule']).toMatch(/binary.*continuous/);
    const pol = await configError({ ...base(), policy: { use: 'transformer', with: { dModel: 30, nHeads: 4 } } });
    expect(pol.issues).toEqual([{ path: 'policy.with.nHeads', message: 'must divide dModel (30)' }]);
    const pol2 = await configError({ ...base(), policy: { path: 'x' } });
    expect(pol2.issues[0]!.path).toBe('policy');
    expect(pol2.issues[0]!.message).toContain('checkpoint');
    expect(pol2.message).toContain('Invalid config test.yaml');
  });

  it('applies --set overrides as YAML scalars', async () => {
    const { config } = await loadRunConfigObject(base(), 'x.yaml', {
      registries: registries(),
      sets: ['trainer.steps=2', 'regularizers[0].with.targetEntropy=0.25', 'advantage.use=rloo', 'trainer.eval.k=[1, 2]', 'seed=9'],
      backend: 'cpu',
    });
    expect(config.trainer.steps).toBe(2);
    expect(config.regularizers[0]!.with.targetEntropy).toBe(0.25);
    expect(config.advantage.use).toBe('rloo');
    expect((config.trainer.eval as { k: number[] }).k).toEqual([1, 2]);
    expect(config.backend).toBe('cpu');
    expect(config.trainer.seed).toBe(9);
  });

  it('rejects --set paths the config does not have', async () => {
    const e = await configError(base(), ['trainer.stepz=3']);
    expect(e.message).toContain('--set trainer.stepz');
    expect(e.issues[0]!.path).toBe('trainer.stepz');
    expect(e.issues[0]!.message).toMatch(/no field 'trainer.stepz'.*allowed at 'trainer': .*steps/);
    const opt = await configError(base(), ['regularizers[0].with.nope=1']);
    expect(opt.issues[0]!.message).toMatch(/no field 'regularizers\[0\]\.with\.nope'.*targetEntropy, rule/);
    const top = await configError(base(), ['sed=1']);
    expect(top.issues[0]!.message).toMatch(/allowed at '\(root\)': .*seed/);
    expect(() => parseOverride('trainer.steps')).toThrow(/expected path=value/);
    expect(() => parseOverride('a..b=1')).toThrow(/malformed path/);
    const seed = await configError(base(), ['trainer.seed=1']);
    expect(seed.issues[0]!.message).toContain('seed=N');
  });

  it('registers user components from the config and validates them like built-ins', async () => {
    const source = join(fixtures, 'run.yaml');
    const regs = registries();
    const { config } = await loadRunConfigObject(
      { ...base(), components: ['./my-components.mjs'], advantage: { use: 'median-baseline', with: { scale: 2 } } },
      source,
      { registries: regs },
    );
    expect(regs.advantage.ids()).toEqual(['grpo', 'median-baseline', 'rloo']);
    expect(config.advantage).toEqual({ use: 'median-baseline', with: { scale: 2 } });
    expect(config.components).toEqual([join(fixtures, 'my-components.mjs')]);
    const estimator = regs.advantage.create(config.advantage) as AdvantageEstimator;
    const out = estimator.compute({
      rows: 3,
      seqLen: 1,
      scores: Float32Array.from([1, 0, 0]),
      groupIds: Int32Array.from([0, 0, 0]),
      responseMask: Float32Array.from([1, 1, 1]),
    });
    expect(Array.from(out.advantages)).toEqual([2, 0, 0]);

    const bad = await loadRunConfigObject(
      { ...base(), components: ['./my-components.mjs'], advantage: { use: 'median-baseline', with: { scale: -1, shift: 1 } } },
      source,
      { registries: registries() },
    ).catch((e: ConfigError) => e);
    expect((bad as ConfigError).issues.map((i) => i.path).sort()).toEqual(['advantage.with.scale', 'advantage.with.shift']);
    await expect(
      loadRunConfigObject({ ...base(), components: ['./missing.mjs'] }, source, { registries: registries() }),
    ).rejects.toThrow(/Cannot load component module '.\/missing.mjs'/);
  });

  it('parses config paths', () => {
    expect(parsePath('regularizers[0].with.alpha')).toEqual(['regularizers', 0, 'with', 'alpha']);
    expect(parsePath('a.2.b')).toEqual(['a', 2, 'b']);
    expect(() => parsePath('a.')).toThrow();
  });
});
