import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { ConfigError } from '@rftkit/core';
import YAML from 'yaml';

/** Reads a YAML or JSON config file into a plain object. Syntax errors give the line. */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(path, [{ path: '', message: `cannot read the file (${(cause as NodeJS.ErrnoException).code ?? cause})` }]);
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, source: string): Record<string, unknown> {
  try {
    return parseConfigValue(text, source);
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    // Alias bombs, very deep nesting and the like: the file is not a config we can read.
    throw new ConfigError(source, [{ path: '', message: `unreadable config (${(cause as Error)?.message ?? String(cause)})` }]);
  }
}

const MAX_DEPTH = 64;

function depthOf(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (limit <= 0) return 1;
  let max = 0;
  for (const v of Object.values(value)) max = Math.max(max, depthOf(v, limit - 1));
  return max + 1;
}

function parseConfigValue(text: string, source: string): Record<string, unknown> {
  let value: unknown;
  if (extname(source).toLowerCase() === '.json') {
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new ConfigError(source, [{ path: '', message: `invalid JSON: ${(cause as Error).message}` }]);
    }
  } else {
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        source,
        doc.errors.map((e) => ({ path: '', message: `invalid YAML: ${e.message.split('\n')[0]}` })),
      );
    }
    value = doc.toJS({ maxAliasCount: 1000 });
  }
  if (depthOf(value, MAX_DEPTH + 1) > MAX_DEPTH) {
    throw new ConfigError(source, [{ path: '', message: `nested deeper than ${MAX_DEPTH} levels` }]);
  }
  if (value === null || value === undefined) value = {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(source, [{ path: '', message: 'the config must be a mapping of fields (seed, task, policy, ...)' }]);
  }
  return value as Record<string, unknown>;
}

/** A config's default run name: its file name without extension. */
export function configName(path: string): string {
  return basename(path).replace(/\.(ya?ml|json)$/i, '');
}
