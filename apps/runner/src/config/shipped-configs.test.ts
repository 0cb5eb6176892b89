// Every shipped config validates (schema, component ids and options) and builds its task,
// with an hf: model swapped for a tiny fixture folder (the real weights are not shipped).
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTask } from '../compose';
import { loadRunConfig } from './run-config';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const TINY_MODEL = join(root, 'packages/policy/src/__fixtures__/hf/qwen3');
const hfConfigs = readdirSync(join(root, 'configs/hf'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(root, 'configs/hf', f));

describe('configs/hf', () => {
  it('ships the base and instruct runs for SmolLM2-135M and Qwen2.5-0.5B', () => {
    const names = hfConfigs.map((p) => relative(join(root, 'configs/hf'), p)).sort();
    for (const model of ['smollm2-135m-instruct', 'qwen2.5-0.5b-instruct']) {
      for (const task of ['countdown', 'gsm8k']) expect(names).toContain(`${model}-${task}.yaml`);
    }
  });

  it.each(hfConfigs.map((p) => [relative(root, p), p]))('%s validates with a tiny model and builds its task', async (_, path) => {
    const loaded = await loadRunConfig(path, { sets: [`policy.with.model=${TINY_MODEL}`] });
    const { config } = loaded;
    expect(config.policy).toMatchObject({ use: 'hf', with: { model: TINY_MODEL, download: false } });
    const instruct = path.includes('-instruct-');
    // Instruct models use their chat template; base models keep plain prompts.
    expect(config.rollout?.chatTemplate).toBe(instruct);
    if (instruct) expect(config.rollout?.systemPrompt).toMatch(/\S/);
    const task = createTask(loaded.registries, config.task);
    const prompts = task.generate('train', 4, config.seed);
    expect(prompts).toHaveLength(4);
    const [scored] = await task.reward().score([{ prompt: prompts[0]!, completion: 'no answer', finishReason: 'stop' }]);
    expect(scored).toBe(0);
  });
});
