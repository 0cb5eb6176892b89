import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { ResolvedRunConfig } from './config/resolve';

/**
 * A run folder's `config.json` holds the resolved config with its paths (policy
 * checkpoint, component modules) relative to the config file's folder, as a config file
 * writes them, so a run folder or the whole checkout moved elsewhere still resumes. The
 * `runtime` entry records what the config does not fix but the numbers depend on: the
 * backend that ran and its thread count.
 */
export interface RunRuntime {
  backend: string;
  threads?: number;
  simd?: string;
}

export type SavedRunConfig = ResolvedRunConfig & { runtime?: RunRuntime };

function portablePath(path: string, baseDir: string): string {
  if (!isAbsolute(path)) return path;
  const rel = relative(baseDir, path).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** The config with its absolute paths made relative to `baseDir` (the config's folder). */
export function portableConfig(config: ResolvedRunConfig, baseDir: string): ResolvedRunConfig {
  const out = structuredClone(config);
  if ('checkpoint' in out.policy && typeof out.policy.checkpoint === 'string') {
    out.policy.checkpoint = portablePath(out.policy.checkpoint, baseDir);
  }
  out.components = out.components.map((m) => (isAbsolute(m) ? portablePath(m, baseDir) : m));
  return out;
}

/** Absolute paths again, resolved against `baseDir`. */
export function absoluteConfig(config: ResolvedRunConfig, baseDir: string): ResolvedRunConfig {
  const out = structuredClone(config);
  if ('checkpoint' in out.policy && typeof out.policy.checkpoint === 'string') {
    out.policy.checkpoint = resolve(baseDir, out.policy.checkpoint);
  }
  out.components = out.components.map((m) => (m.startsWith('.') ? resolve(baseDir, m) : m));
  return out;
}

export interface ConfigDifference {
  path: string;
  saved: unknown;
  current: unknown;
}

/** Every leaf where `saved` and `current` differ, with both values. */
export function configDifferences(saved: unknown, current: unknown, path = ''): ConfigDifference[] {
  if (typeof saved !== 'object' || typeof current !== 'object' || saved === null || current === null) {
    return JSON.stringify(saved) === JSON.stringify(current) ? [] : [{ path: path || '(root)', saved, current }];
  }
  const keys = new Set([...Object.keys(saved), ...Object.keys(current)]);
  return [...keys].flatMap((k) =>
    configDifferences(
      (saved as Record<string, unknown>)[k],
      (current as Record<string, unknown>)[k],
      Array.isArray(saved) ? `${path}[${k}]` : path ? `${path}.${k}` : k,
    ),
  );
}

export function formatValue(value: unknown): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}

/** The parts of a saved config.json that are the config (without `runtime`). */
export function splitSaved(saved: SavedRunConfig): { config: ResolvedRunConfig; runtime?: RunRuntime } {
  const { runtime, ...config } = saved;
  return { config, runtime };
}

/** Whether `saved` (a config.json) holds exactly `config` loaded from a file in `baseDir`. */
export function sameRunConfig(saved: unknown, config: ResolvedRunConfig, baseDir: string): boolean {
  if (typeof saved !== 'object' || saved === null) return false;
  return comparedDifferences(saved as SavedRunConfig, config, baseDir).length === 0;
}

/**
 * Differences between a saved config.json and the config loaded now from a file in
 * `baseDir`, both with portable paths (a config.json written with absolute paths, by an
 * older rftkit, compares equal while the run has not moved).
 */
export function comparedDifferences(saved: SavedRunConfig, config: ResolvedRunConfig, baseDir: string): ConfigDifference[] {
  return configDifferences(portableConfig(splitSaved(saved).config, baseDir), portableConfig(config, baseDir));
}
