import { readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { DatasetError, Registry, Rng, defineComponent, deriveSeed } from '@rftkit/core';
import type { PromptRecord, RewardFunction, Split, Task } from '@rftkit/core';
import { rewardDefinitions } from '@rftkit/rewards';
import { z } from 'zod';
import { checkGenerateArgs, splitOf, testFractionSchema } from './split';

export interface JsonlDatasetOptions {
  /** Field holding the prompt text. Default 'prompt'. */
  promptField?: string;
  /** Field holding the reference answer. Default 'answer'. */
  answerField?: string;
  /** Field holding a row id (string or number); default `<file name>:<line>`. */
  idField?: string;
  /** What to do with a malformed row: reject the file ('error', default) or skip it and report it. */
  onInvalid?: 'skip' | 'error';
}

export interface JsonlDataset {
  prompts: PromptRecord[];
  /** Rows left out, with their 1-based line numbers and why. */
  skipped: Array<{ line: number; reason: string }>;
}

/**
 * Reads a JSONL file of prompts. Each non-blank line must be a JSON object with a string
 * prompt and a string answer (and a string or number id when `idField` is set, unique);
 * other fields go to `metadata`. A malformed row is never used: with `onInvalid: 'error'`
 * it throws a `DatasetError` naming the line, with 'skip' it is listed in `skipped`.
 */
export function loadJsonlDataset(path: string, options: JsonlDatasetOptions = {}): JsonlDataset {
  const { promptField = 'prompt', answerField = 'answer', idField, onInvalid = 'error' } = options;
  if (onInvalid !== 'skip' && onInvalid !== 'error') {
    throw new DatasetError(path, undefined, `onInvalid must be 'skip' or 'error', got '${String(onInvalid)}'`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DatasetError(path, undefined, `cannot read file (${(e as Error).message})`);
  }
  const prompts: PromptRecord[] = [];
  const skipped: JsonlDataset['skipped'] = [];
  const ids = new Set<string>();
  const name = basename(path);

  // The row as a prompt record, or why it is malformed.
  const readRow = (raw: string, line: number): PromptRecord | string => {
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch (e) {
      return `invalid JSON (${(e as Error).message})`;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) return 'not a JSON object';
    const obj = row as Record<string, unknown>;
    for (const field of [promptField, answerField]) {
      if (obj[field] === undefined) return `missing field '${field}'`;
      if (typeof obj[field] !== 'string') return `field '${field}' must be a string, got ${typeof obj[field]}`;
    }
    let id = `${name}:${line}`;
    if (idField !== undefined) {
      const v = obj[idField];
      if (typeof v !== 'string' && typeof v !== 'number') return `field '${idField}' must be a string or number`;
      id = String(v);
      if (ids.has(id)) return `duplicate id '${id}'`;
    }
    const metadata = Object.fromEntries(Object.entries(obj).filter(([k]) => k !== promptField && k !== answerField && k !== idField));
    return {
      id,
      prompt: obj[promptField] as string,
      reference: obj[answerField] as string,
      ...(Object.keys(metadata).length ? { metadata } : {}),
    };
  };

  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    if (raw.trim() === '') continue;
    const line = index + 1;
    const record = readRow(raw, line);
    if (typeof record === 'string') {
      if (onInvalid === 'error') throw new DatasetError(path, line, record);
      skipped.push({ line, reason: record });
      continue;
    }
    ids.add(record.id);
    prompts.push(record);
  }
  return { prompts, skipped };
}

const rewardRefSchema = z.union([
  z.string().min(1),
  z.strictObject({ use: z.string().min(1), with: z.record(z.string(), z.unknown()).optional() }),
]);

export const jsonlTaskSchema = z.strictObject({
  path: z.string().min(1).describe('JSONL file of prompts (required).'),
  testPath: z.string().min(1).optional().describe('Separate JSONL file for the test split; otherwise `path` is split by testFraction.'),
  baseDir: z.string().optional().describe('Folder relative paths resolve against (default: the working directory).'),
  promptField: z.string().default('prompt').describe('Field holding the prompt.'),
  answerField: z.string().default('answer').describe('Field holding the reference answer.'),
  idField: z.string().optional().describe('Field holding the row id (default: file:line).'),
  onInvalid: z.enum(['skip', 'error']).default('error').describe("Malformed rows: 'error' rejects the file, 'skip' leaves them out."),
  testFraction: testFractionSchema,
  reward: rewardRefSchema.default('exact-match').describe('Reward id or { use, with } that scores completions.'),
  registry: z
    .custom<Registry<RewardFunction>>((v) => v instanceof Registry, 'a reward Registry')
    .optional()
    .describe('Resolves `reward` (default: the built-in rewards).'),
});
export type JsonlTaskOptions = z.input<typeof jsonlTaskSchema>;

export const jsonlTaskDefinition = defineComponent({
  id: 'jsonl',
  family: 'task',
  description: 'Prompts and reference answers from a JSONL file, scored by a chosen reward (exact match by default).',
  schema: jsonlTaskSchema,
  build: (o): Task => {
    const at = (p: string) => (isAbsolute(p) ? p : resolve(o.baseDir ?? process.cwd(), p));
    const load = (p: string) =>
      loadJsonlDataset(at(p), { promptField: o.promptField, answerField: o.answerField, idField: o.idField, onInvalid: o.onInvalid }).prompts;
    const all = load(o.path);
    let pools: Record<Split, PromptRecord[]>;
    if (o.testPath !== undefined) {
      pools = { train: all, test: load(o.testPath) };
    } else {
      // Split by prompt text, so a prompt repeated under two ids cannot land in both splits.
      pools = { train: [], test: [] };
      for (const r of all) pools[splitOf('jsonl', r.prompt, o.testFraction)].push(r);
    }
    const registry = o.registry ?? new Registry<RewardFunction>('reward', rewardDefinitions);
    const reward = registry.create(o.reward);
    const alphabet = [...new Set([...pools.train, ...pools.test].flatMap((r) => [...r.prompt, ...(r.reference ?? '')]))].sort().join('');
    return {
      id: 'jsonl',
      description: `Dataset ${o.path} (${pools.train.length} train, ${pools.test.length} test prompts).`,
      /** `count` prompts in a seeded order; cycles through reshuffled passes when count exceeds the split. */
      generate: (split, count, seed) => {
        checkGenerateArgs('jsonl', split, count, seed);
        const pool = pools[split];
        if (count > 0 && pool.length === 0) {
          throw new DatasetError(o.path, undefined, `the ${split} split is empty (${all.length} rows, testFraction ${o.testFraction})`);
        }
        const out: PromptRecord[] = [];
        for (let pass = 0; out.length < count; pass++) {
          const order = new Rng(deriveSeed(seed, 'jsonl', split, pass)).shuffle(pool.map((_, i) => i));
          for (const i of order.slice(0, count - out.length)) out.push(pool[i]!);
        }
        return out;
      },
      reward: () => reward,
      solve: (prompt) => prompt.reference,
      alphabet: () => alphabet,
    };
  },
});

export const createJsonlTask = (options: JsonlTaskOptions): Task => jsonlTaskDefinition.create(options);
