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
    value = doc.toJS();
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
