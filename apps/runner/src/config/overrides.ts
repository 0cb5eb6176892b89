import { ConfigError } from '@rftkit/core';
import YAML from 'yaml';
import { formatPath, type PathSegment, parsePath } from './schema-walk';

export interface Override {
  /** As written, e.g. `trainer.steps`. */
  text: string;
  path: PathSegment[];
  value: unknown;
}

/** Parses `path=value`; the value is read as a YAML scalar (`2` → 2, `true`, `[1, 4]`, `grpo`). */
export function parseOverride(arg: string): Override {
  const eq = arg.indexOf('=');
  if (eq <= 0) {
    throw new ConfigError(`--set ${arg}`, [{ path: arg, message: 'expected path=value, e.g. --set trainer.steps=20' }]);
  }
  const text = arg.slice(0, eq).trim();
  let path: PathSegment[];
  try {
    path = parsePath(text);
  } catch {
    throw new ConfigError(`--set ${arg}`, [
      { path: text, message: 'malformed path; write keys with dots and indices in brackets: regularizers[0].with.alpha' },
    ]);
  }
  const reserved = path.find((p) => p === '__proto__' || p === 'constructor' || p === 'prototype');
  if (reserved !== undefined) {
    throw new ConfigError(`--set ${arg}`, [{ path: text, message: `'${String(reserved)}' is not a config field` }]);
  }
  const raw = arg.slice(eq + 1);
  let value: unknown;
  try {
    value = raw.trim() === '' ? '' : YAML.parse(raw);
  } catch (cause) {
    throw new ConfigError(`--set ${arg}`, [{ path: text, message: `value is not valid YAML (${(cause as Error).message})` }]);
  }
  return { text: formatPath(path), path, value };
}

/** Sets `value` at `path` in a plain object tree, creating objects/arrays on the way. */
export function setAtPath(root: Record<string, unknown>, path: readonly PathSegment[], value: unknown): void {
  let node: Record<string | number, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i]!;
    let next = node[seg];
    if (typeof next !== 'object' || next === null) {
      next = typeof path[i + 1] === 'number' ? [] : {};
      node[seg] = next;
    }
    node = next as Record<string | number, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Reads the value at `path`, or undefined. */
export function getAtPath(root: unknown, path: readonly PathSegment[]): unknown {
  let node = root;
  for (const seg of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}
