import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@rftkit/core';
import { createTask } from './compose';
import { createRegistries, registerUserComponents } from './registries';

/** A module exporting rewards with the given ids (each scores 0.25). */
const rewardModule = (...ids: string[]) =>
  [
    "import { defineComponent } from '@rftkit/core';",
    "import { z } from 'zod';",
    ...ids.map(
      (id, n) =>
        `export const r${n} = defineComponent({ id: '${id}', family: 'reward', description: 'one', schema: z.object({}), build: () => ({ id: '${id}', score: (inputs) => inputs.map(() => 0.25) }) });`,
    ),
  ].join('\n');

let dir: string;
beforeAll(async () => {
  // Inside the package, so the modules resolve @rftkit/core and zod as a user's would.
  dir = await mkdtemp(join(import.meta.dirname, '.tmp-registries-'));
  await writeFile(join(dir, 'a.mjs'), rewardModule('bonus'));
  await writeFile(join(dir, 'b.mjs'), rewardModule('bonus'));
  await writeFile(join(dir, 'twice.mjs'), rewardModule('bonus', 'bonus'));
  await writeFile(join(dir, 'builtin.mjs'), rewardModule('exact-match'));
  await writeFile(join(dir, 'data.jsonl'), `${JSON.stringify({ prompt: '1+1=', answer: '2' })}\n${JSON.stringify({ prompt: '2+2=', answer: '4' })}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('registerUserComponents: duplicate ids', () => {
  it('loads distinct ids', async () => {
    const registries = createRegistries();
    const loaded = await registerUserComponents(registries, ['./a.mjs'], dir);
    expect(loaded.map((d) => d.id)).toEqual(['bonus']);
    expect(registries.reward.has('bonus')).toBe(true);
  });

  it('two user modules with one id name both modules', async () => {
    const run = registerUserComponents(createRegistries(), ['./a.mjs', './b.mjs'], dir);
    await expect(run).rejects.toThrow(ConfigError);
    await expect(registerUserComponents(createRegistries(), ['./a.mjs', './b.mjs'], dir)).rejects.toThrow(
      /components\[1\].*module '\.\/b\.mjs' defines reward 'bonus', which module '\.\/a\.mjs' already defines/,
    );
  });

  it('a user module redefining a built-in id names the module and says built-in', async () => {
    await expect(registerUserComponents(createRegistries(), ['./builtin.mjs'], dir)).rejects.toThrow(
      /module '\.\/builtin\.mjs' defines reward 'exact-match', which a built-in component already defines/,
    );
  });

  it('one module exporting an id twice says so', async () => {
    await expect(registerUserComponents(createRegistries(), ['./twice.mjs'], dir)).rejects.toThrow(
      /module '\.\/twice\.mjs' defines reward 'bonus', which another export of the same module already defines/,
    );
  });
});

describe('the jsonl task with a user reward', () => {
  it('resolves its reward id in the run registry, components included', async () => {
    const registries = createRegistries();
    await registerUserComponents(registries, ['./a.mjs'], dir);
    const task = createTask(registries, { use: 'jsonl', with: { path: 'data.jsonl', baseDir: dir, testPath: 'data.jsonl', reward: 'bonus' } });
    const reward = task.reward?.();
    expect(reward?.id).toBe('bonus');
    const [prompt] = task.generate('train', 1, 0);
    // exact-match would score this completion 1; the user reward scores 0.25.
    expect(await reward?.score([{ prompt: prompt!, completion: prompt!.reference ?? '', finishReason: 'stop' }])).toEqual([0.25]);
  });

  it('an id no registry holds is still an unknown-component error', () => {
    expect(() => createTask(createRegistries(), { use: 'jsonl', with: { path: 'data.jsonl', baseDir: dir, testPath: 'data.jsonl', reward: 'bonus' } })).toThrow(
      /bonus/,
    );
  });
});
