import { readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { DatasetError, Registry, Rng, defineComponent, deriveSeed } from '@rftkit/core';
import type { ChatMessage, PromptRecord, RewardFunction, Split, Task } from '@rftkit/core';
import { rewardDefinitions } from '@rftkit/rewards';
import { z } from 'zod';
import { checkGenerateArgs, splitOf, testFractionSchema } from './split';

export interface JsonlDatasetOptions {
  /** Field holding the prompt text. Default 'prompt'. */
  promptField?: string;
  /**
   * Field that may hold a conversation `[{ role, content }]` instead of the prompt (roles
   * system, user, assistant; it ends with a user turn). Default 'messages'.
   */
  messagesField?: string;
  /** Field holding the reference answer. Default 'answer'. */
  answerField?: string;
  /** Field holding a row id (string or number); default `<file name>:<line>`. */
  idField?: string;
  /** What to do with a malformed row: reject the file ('error', default) or skip it and report it. */
  onInvalid?: 'skip' | 'error';
}

// C0 and C1 control characters and DEL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const ROLES: ReadonlySet<string> = new Set(['system', 'user', 'assistant']);

/** A row's conversation, or why it is malformed (naming the field). */
function readMessages(value: unknown, field: string): ChatMessage[] | string {
  if (!Array.isArray(value) || value.length === 0) return `field '${field}' must be a non-empty array of { role, content }`;
  const out: ChatMessage[] = [];
  for (const [i, m] of value.entries()) {
    const at = `${field}[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return `field '${at}' must be an object { role, content }`;
    const extra = Object.keys(m).filter((k) => k !== 'role' && k !== 'content');
    if (extra.length > 0) return `field '${at}' has unknown key '${extra[0]}' (allowed: role, content)`;
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || !ROLES.has(role)) return `field '${at}.role' must be 'system', 'user' or 'assistant', got ${JSON.stringify(role)}`;
    if (typeof content !== 'string') return `field '${at}.content' must be a string, got ${content === null ? 'null' : typeof content}`;
    if (role === 'system' && i > 0) return `field '${at}.role' is 'system', which is allowed only as the first message`;
    out.push({ role: role as ChatMessage['role'], content });
  }
  const last = out[out.length - 1]!;
  if (last.role !== 'user') return `field '${field}[${out.length - 1}].role' is '${last.role}', but the last message must be the user's (the model writes the reply)`;
  return out;
}

export interface JsonlDataset {
  prompts: PromptRecord[];
  /** Rows left out, with their 1-based line numbers and why. */
  skipped: Array<{ line: number; reason: string }>;
}

/**
 * Reads a JSONL file of prompts. Each non-blank line must be a JSON object with a string
 * prompt (or a conversation under `messagesField`, rendered with the policy's chat template)
 * and a string answer (and a string or number id when `idField` is set, unique);
 * other fields go to `metadata`. A malformed row is never used: with `onInvalid: 'error'`
 * it throws a `DatasetError` naming the line, with 'skip' it is listed in `skipped`. The file
 * must be UTF-8 (invalid bytes throw naming the line; a leading byte-order mark is fine), and
 * ids may not contain control characters.
 */
export function loadJsonlDataset(path: string, options: JsonlDatasetOptions = {}): JsonlDataset {
  const { promptField = 'prompt', messagesField = 'messages', answerField = 'answer', idField, onInvalid = 'error' } = options;
  if (onInvalid !== 'skip' && onInvalid !== 'error') {
    throw new DatasetError(path, undefined, `onInvalid must be 'skip' or 'error', got '${String(onInvalid)}'`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
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
    let messages: ChatMessage[] | undefined;
    if (obj[messagesField] !== undefined && messagesField !== promptField) {
      if (obj[promptField] !== undefined) return `has both '${promptField}' and '${messagesField}'; give one`;
      const read = readMessages(obj[messagesField], messagesField);
      if (typeof read === 'string') return read;
      messages = read;
    }
    for (const field of messages ? [answerField] : [promptField, answerField]) {
      if (obj[field] === undefined) return field === promptField ? `missing field '${field}' (or '${messagesField}')` : `missing field '${field}'`;
      if (typeof obj[field] !== 'string') return `field '${field}' must be a string, got ${typeof obj[field]}`;
    }
    let id = `${name}:${line}`;
    if (idField !== undefined) {
      const v = obj[idField];
      if (typeof v !== 'string' && typeof v !== 'number') return `field '${idField}' must be a string or number`;
      id = String(v);
      // Ids are printed to terminals and logs: control characters (escape codes) are refused.
      if (CONTROL.test(id)) return `field '${idField}' contains a control character (${JSON.stringify(id)})`;
      if (ids.has(id)) return `duplicate id '${id}'`;
    }
    const metadata = Object.fromEntries(
      Object.entries(obj).filter(([k]) => k !== promptField && k !== answerField && k !== idField && !(messages && k === messagesField)),
    );
    return {
      id,
      // A conversation's prompt text is its last user message (what rewards and logs show).
      prompt: messages ? messages[messages.length - 1]!.content : (obj[promptField] as string),
      ...(messages ? { messages } : {}),
      reference: obj[answerField] as string,
      ...(Object.keys(metadata).length ? { metadata } : {}),
    };
  };

  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let start = 0;
  for (let index = 0; start <= bytes.length; index++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const line = index + 1;
    let raw: string;
    try {
      raw = decoder.decode(bytes.subarray(start, end));
    } catch {
      throw new DatasetError(path, line, 'invalid UTF-8 (save the file as UTF-8)');
    }
    start = end + 1;
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (index === 0 && raw.startsWith('\uFEFF')) raw = raw.slice(1); // a byte-order mark
    if (raw.trim() === '') continue;
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

/** One line summing up skipped rows: their count and the first few reasons with line numbers. */
export function describeSkipped(path: string, skipped: JsonlDataset['skipped'], shown = 3): string {
  const first = skipped.slice(0, shown).map((s) => `line ${s.line}: ${s.reason}`);
  const more = skipped.length > shown ? `; … ${skipped.length - shown} more` : '';
  return `${path}: skipped ${skipped.length} invalid row${skipped.length === 1 ? '' : 's'} (${first.join('; ')}${more})`;
}

/**
 * Throws a `DatasetError` naming the first prompt whose token count exceeds
 * `maxPromptTokens` (the policy's context minus the response budget), so a too-long row
 * fails at load instead of at the step that draws it. `countTokens` is the policy
 * tokenizer's (with the chat template applied, if the run uses one).
 */
export function checkPromptLengths(
  prompts: readonly PromptRecord[],
  countTokens: (prompt: string, record: PromptRecord) => number,
  maxPromptTokens: number,
  source = 'dataset',
): void {
  if (!(Number.isInteger(maxPromptTokens) && maxPromptTokens > 0)) {
    throw new DatasetError(source, undefined, `maxPromptTokens must be a positive integer, got ${String(maxPromptTokens)}`);
  }
  for (const p of prompts) {
    const n = countTokens(p.prompt, p);
    if (n > maxPromptTokens) {
      throw new DatasetError(
        source,
        undefined,
        `prompt '${p.id}' is ${n} tokens, longer than the ${maxPromptTokens} the policy's context leaves for prompts`,
      );
    }
  }
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
  messagesField: z
    .string()
    .default('messages')
    .describe("Field a row may hold a conversation in instead of the prompt: [{ role: system|user|assistant, content }], ending with the user's turn."),
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
    const skippedNotes: string[] = [];
    const load = (p: string) => {
      const d = loadJsonlDataset(at(p), {
        promptField: o.promptField,
        messagesField: o.messagesField,
        answerField: o.answerField,
        idField: o.idField,
        onInvalid: o.onInvalid,
      });
      if (d.skipped.length > 0) {
        const note = describeSkipped(p, d.skipped);
        skippedNotes.push(note);
        process.stderr.write(`warning: ${note}\n`);
      }
      return d.prompts;
    };
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
      description: `Dataset ${o.path} (${pools.train.length} train, ${pools.test.length} test prompts).${skippedNotes.map((n) => ` ${n}.`).join('')}`,
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
