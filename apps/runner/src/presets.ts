import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@rftkit/core';

/**
 * The package's root folder: `dist/` (built) and `src/` (tests) both sit one level below
 * it, so `..` from this module is the root both when installed and in the workspace.
 */
export const PACKAGE_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where the presets live: `configs/` of the package. The build copies the repository's
 * `configs/` and `checkpoints/` there side by side, so a preset's relative
 * `policy.checkpoint: ../checkpoints/countdown-base` resolves inside the installed package.
 */
export function presetsDir(root = PACKAGE_ROOT): string {
  return join(root, 'configs');
}

export type PresetKind = 'train' | 'sft' | 'reproduce';

export interface Preset {
  /** What `rft train <name>` takes: the path under configs/ without extension, e.g. `aepo`, `hf/smollm2-135m-countdown`. */
  name: string;
  kind: PresetKind;
  path: string;
  /** The first sentence of the file's leading comment. */
  description: string;
}

const CONFIG_EXT = /\.(ya?ml|json)$/i;

function kindOf(name: string): PresetKind {
  if (name.startsWith('reproduce/')) return 'reproduce';
  return /(^|\/)sft-/.test(name) ? 'sft' : 'train';
}

function describe(path: string): string {
  const lines = readFileSync(path, 'utf8').split('\n');
  const comment: string[] = [];
  for (const line of lines) {
    if (!line.startsWith('#')) break;
    const text = line.replace(/^#\s?/, '');
    // Command examples in the header are not the description.
    if (/^\s+(pnpm )?rft /.test(text)) break;
    comment.push(text.trim());
  }
  const text = comment.join(' ').replace(/\s+/g, ' ').trim();
  const sentence = (/^(.+?\.)(\s|$)/.exec(text)?.[1] ?? text).replace(/:$/, '');
  return sentence.length > 110 ? `${sentence.slice(0, 109).trimEnd()}…` : sentence;
}

/** Every preset shipped with the package, sorted by name. */
export function listPresets(dir = presetsDir()): Preset[] {
  if (!existsSync(dir)) return [];
  const out: Preset[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const path = join(d, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (CONFIG_EXT.test(entry)) {
        const name = relative(dir, path).split(sep).join('/').replace(CONFIG_EXT, '');
        out.push({ name, kind: kindOf(name), path, description: describe(path) });
      }
    }
  };
  walk(dir);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * A config argument as a file path: the file when it exists, else the preset of that
 * name (`aepo`, `reproduce/baselines`) of `kind`. Throws `ConfigError` listing the presets.
 */
export function resolveConfigArgument(arg: string, kind: PresetKind, dir = presetsDir()): string {
  if (existsSync(arg) && statSync(arg).isFile()) return arg;
  const presets = listPresets(dir);
  const name = arg.replace(CONFIG_EXT, '');
  const preset = presets.find((p) => p.name === name) ?? presets.find((p) => p.name === `${kind === 'reproduce' ? 'reproduce/' : ''}${name}`);
  if (preset) {
    if (preset.kind !== kind) {
      throw new ConfigError(arg, [{ path: '', message: `preset '${preset.name}' is an \`rft ${preset.kind}\` config; run it with \`rft ${preset.kind} ${preset.name}\`` }]);
    }
    return preset.path;
  }
  const names = presets.filter((p) => p.kind === kind).map((p) => p.name);
  throw new ConfigError(arg, [
    {
      path: '',
      message: `no such file, and no ${kind} preset of that name; presets: ${names.join(', ') || '(none installed)'} (see \`rft presets\`)`,
    },
  ]);
}

/** `rft presets`: one line per preset, grouped by the command that runs it. */
export function formatPresetList(presets: readonly Preset[]): string {
  if (presets.length === 0) return 'no presets installed';
  const width = Math.max(...presets.map((p) => p.name.length));
  const sections: string[] = [];
  for (const kind of ['train', 'sft', 'reproduce'] as const) {
    const group = presets.filter((p) => p.kind === kind);
    if (group.length === 0) continue;
    sections.push([`rft ${kind} <preset>`, ...group.map((p) => `  ${p.name.padEnd(width)}  ${p.description}`)].join('\n'));
  }
  return `${sections.join('\n\n')}\n\npresets are in ${presetsDir()}`;
}
