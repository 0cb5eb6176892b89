// LoRA options in run configs: the shipped LoRA config loads under the strict schemas, and
// mistakes in `policy.with.lora` fail before any weight is read, naming the field.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigFile } from './load';
import { loadRunConfig, loadRunConfigObject } from './run-config';

const configs = resolve(import.meta.dirname, '../../../../configs');
const LORA_CONFIG = join(configs, 'hf', 'qwen2.5-0.5b-countdown-lora.yaml');

// biome-ignore lint/suspicious/noExplicitAny: rows reach into the parsed YAML freely
type Raw = Record<string, any>;

describe('LoRA run configs', () => {
  it('the shipped LoRA config loads with its adapter options', async () => {
    const { config } = await loadRunConfig(LORA_CONFIG);
    const policy = config.policy as { use: string; with: { lora?: Record<string, unknown> } };
    expect(policy.with.lora).toMatchObject({ rank: 16, alpha: 32, dropout: 0, seed: 0 });
  });

  it.each([
    ['an unknown key', { rnak: 4 }, 'policy.with.lora.rnak'],
    ['rank 0', { rank: 0 }, 'policy.with.lora.rank'],
    ['an invalid regex', { targetModules: '(' }, 'not a valid regular expression'],
    ['an empty target list', { targetModules: [] }, 'policy.with.lora.targetModules'],
    ['rank beside an adapter', { adapter: '.', rank: 4 }, "comes from the adapter's adapter_config.json"],
    ['a missing adapter folder', { adapter: './no-such-adapter' }, 'policy.with.lora.adapter: no adapter folder'],
  ])('%s is refused naming the field', async (_name, lora, needle) => {
    const raw = (await readConfigFile(LORA_CONFIG)) as Raw;
    raw.policy.with.lora = lora;
    const err = await loadRunConfigObject(raw, LORA_CONFIG).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err, 'expected the config to be rejected').toBeDefined();
    expect(err!.message).toContain(needle);
  });
});
