import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isRftError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { readConfigFile } from './config/load';
import { formatPresetList, listPresets, resolveConfigArgument } from './presets';

// The repository's configs/: what the build copies into the package.
const repoConfigs = resolve(import.meta.dirname, '..', '..', '..', 'configs');

function errorOf(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('presets', () => {
  it('lists every shipped config by name and the command that runs it', () => {
    const presets = listPresets(repoConfigs);
    const byName = new Map(presets.map((p) => [p.name, p]));
    expect(byName.get('default')?.kind).toBe('train');
    expect(byName.get('grpo')?.kind).toBe('train');
    expect(byName.get('hf/smollm2-135m-countdown')?.kind).toBe('train');
    expect(byName.get('sft-countdown')?.kind).toBe('sft');
    expect(byName.get('reproduce/baselines')?.kind).toBe('reproduce');
    for (const p of presets) expect(p.description.length, p.name).toBeGreaterThan(10);
    const text = formatPresetList(presets);
    expect(text).toMatch(/^rft train <preset>\n/);
    expect(text).toMatch(/\n {2}aepo +AEPO: GRPO plus REINFORCE/);
    expect(text.indexOf('rft sft <preset>')).toBeGreaterThan(text.indexOf('  grpo '));
  });

  it('ships the base checkpoint of every preset that starts from one, inside the package', async () => {
    for (const p of listPresets(repoConfigs).filter((x) => x.kind === 'train')) {
      const config = await readConfigFile(p.path);
      const checkpoint = (config.policy as { checkpoint?: string } | undefined)?.checkpoint;
      if (typeof checkpoint !== 'string' || !checkpoint.startsWith('.')) continue;
      const dir = resolve(p.path, '..', checkpoint);
      // Inside the folder the package ships (configs/ and checkpoints/ side by side).
      expect(dir.startsWith(resolve(repoConfigs, '..', 'checkpoints')), `${p.name}: ${checkpoint}`).toBe(true);
      expect(existsSync(join(dir, 'policy.json')), `${p.name}: ${dir}`).toBe(true);
    }
  });

  it('resolves a file path as given, else a preset name of the command', () => {
    expect(resolveConfigArgument('src/presets.ts', 'train', repoConfigs)).toBe('src/presets.ts');
    expect(resolveConfigArgument('aepo', 'train', repoConfigs)).toBe(join(repoConfigs, 'aepo.yaml'));
    expect(resolveConfigArgument('aepo.yaml', 'train', repoConfigs)).toBe(join(repoConfigs, 'aepo.yaml'));
    expect(resolveConfigArgument('sft-countdown', 'sft', repoConfigs)).toBe(join(repoConfigs, 'sft-countdown.yaml'));
    expect(resolveConfigArgument('baselines', 'reproduce', repoConfigs)).toBe(join(repoConfigs, 'reproduce', 'baselines.yaml'));
  });

  it('refuses an unknown name listing the presets, and a preset of another command naming it', () => {
    const unknown = errorOf(() => resolveConfigArgument('countdown-nope', 'train', repoConfigs));
    expect(isRftError(unknown) && unknown.code).toBe('E_CONFIG');
    expect(unknown.message).toMatch(/no such file, and no train preset of that name; presets: .*\baepo\b.*\bgrpo\b/);
    expect(unknown.message).not.toMatch(/sft-countdown/);
    const wrong = errorOf(() => resolveConfigArgument('sft-countdown', 'train', repoConfigs));
    expect(wrong.message).toMatch(/preset 'sft-countdown' is an `rft sft` config; run it with `rft sft sft-countdown`/);
  });
});
