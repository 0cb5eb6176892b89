// GSM8K-style grade-school math from a JSONL file of { question, answer } rows, where the
// answer (worked solution) ends in `#### <number>`; completions are scored on their final number.
import { readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { DatasetError, Rng, defineComponent, deriveSeed } from '@rftkit/core';
import type { PromptRecord, RewardFunction, Split, Task } from '@rftkit/core';
import { type Rational, extractBoxed, parseNumber } from '@rftkit/rewards';
import { z } from 'zod';
import { checkGenerateArgs, splitOf, testFractionSchema } from './split';

// A number as written in an answer: optional sign and `$`, digits with optional thousands
// commas, an optional decimal part.
const NUMBER_TEXT = String.raw`[-+]?\$?\s*(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\$?\s*\.\d+`;
const HASH_ANSWER = new RegExp(String.raw`####\s*(${NUMBER_TEXT})`, 'g');

/** The value of a number as GSM8K writes it (`1,234`, `$18`, `72.0`, `-5`); undefined otherwise. */
export function parseGsm8kNumber(text: string): Rational | undefined {
  let t = text.trim().replace(/\\\$|\$/g, '').replace(/\\[,!; ]/g, '').replace(/\s+/g, '');
  // A sentence may end right after the number: `#### 18.`
  if (t.endsWith('.')) t = t.slice(0, -1);
  if (!/^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$/.test(t) || !/\d/.test(t)) return undefined;
  return parseNumber(t);
}

/**
 * The final answer of a completion: the number after its last `#### `, else the content of
 * its last `\boxed{...}` when that is a number; undefined when it gives neither.
 */
export function extractGsm8kAnswer(completion: string): Rational | undefined {
  const hashes = [...completion.matchAll(HASH_ANSWER)];
  const last = hashes.at(-1);
  if (last) {
    const value = parseGsm8kNumber(last[1]!);
    if (value) return value;
  }
  const boxed = extractBoxed(completion);
  return boxed === undefined ? undefined : parseGsm8kNumber(boxed);
}

/** The reference number of a GSM8K answer field (its `#### n` line), or why there is none. */
export function gsm8kReference(answer: string): string | { error: string } {
  const m = /####\s*([^\n]*)\s*$/.exec(answer);
  if (!m) return { error: "field 'answer' must end with '#### <number>'" };
  const value = parseGsm8kNumber(m[1]!);
  if (!value) return { error: `field 'answer' ends with '#### ${m[1]!.trim()}', which is not a number` };
  return m[1]!.trim();
}

/** 1 when the completion's final number equals the reference's (numerically: `1,000` = `1000.0`). */
export function gsm8kReward(): RewardFunction {
  return {
    id: 'gsm8k',
    score: (inputs) =>
      inputs.map(({ prompt, completion }) => {
        const ref = prompt.reference === undefined ? undefined : parseGsm8kNumber(prompt.reference);
        if (!ref) throw new DatasetError(prompt.id, undefined, `reference '${String(prompt.reference)}' is not a number`);
        const got = extractGsm8kAnswer(completion);
        return got?.equals(ref) ? 1 : 0;
      }),
  };
}

/** Reads { question, answer } rows; a malformed row throws naming the file, line and field. */
export function loadGsm8kRows(path: string, instruction: string): PromptRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DatasetError(path, undefined, `cannot read file (${(e as Error).message})`);
  }
  const name = basename(path);
  const out: PromptRecord[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = i + 1;
    if (raw.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch (e) {
      throw new DatasetError(path, line, `invalid JSON (${(e as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new DatasetError(path, line, 'not a JSON object { question, answer }');
    const { question, answer } = row as Record<string, unknown>;
    for (const [field, value] of [['question', question], ['answer', answer]] as const) {
      if (value === undefined) throw new DatasetError(path, line, `missing field '${field}'`);
      if (typeof value !== 'string' || value.trim() === '') throw new DatasetError(path, line, `field '${field}' must be a non-empty string`);
    }
    const reference = gsm8kReference(answer as string);
    if (typeof reference !== 'string') throw new DatasetError(path, line, reference.error);
    const q = (question as string).trim();
    out.push({ id: `${name}:${line}`, prompt: instruction ? `${q}\n${instruction}` : q, reference, metadata: { solution: answer } });
  }
  if (out.length === 0) throw new DatasetError(path, undefined, 'no rows');
  return out;
}

export const gsm8kSchema = z.strictObject({
  path: z.string().min(1).describe('JSONL file of { question, answer } rows; answer ends with `#### <number>` (required).'),
  testPath: z.string().min(1).optional().describe('Separate file for the test split; otherwise `path` is split by testFraction.'),
  baseDir: z.string().optional().describe('Folder relative paths resolve against (default: the working directory).'),
  instruction: z
    .string()
    .default("Solve it step by step, then give the final answer on its own line as '#### <number>'.")
    .describe("Line appended to each question ('' for none); a chat run may say it in rollout.systemPrompt instead."),
  testFraction: testFractionSchema,
});
export type Gsm8kOptions = z.input<typeof gsm8kSchema>;

export const gsm8kDefinition = defineComponent({
  id: 'gsm8k',
  family: 'task',
  description: "Grade-school math word problems ({ question, answer } JSONL, answer ending '#### n'); reward: the completion's final number ('#### n', else \\boxed{n}).",
  schema: gsm8kSchema,
  build: (o): Task => {
    const at = (p: string) => (isAbsolute(p) ? p : resolve(o.baseDir ?? process.cwd(), p));
    const all = loadGsm8kRows(at(o.path), o.instruction);
    let pools: Record<Split, PromptRecord[]>;
    if (o.testPath !== undefined) pools = { train: all, test: loadGsm8kRows(at(o.testPath), o.instruction) };
    else {
      pools = { train: [], test: [] };
      for (const r of all) pools[splitOf('gsm8k', r.prompt, o.testFraction)].push(r);
    }
    const reward = gsm8kReward();
    return {
      id: 'gsm8k',
      description: `GSM8K-style problems from ${o.path} (${pools.train.length} train, ${pools.test.length} test).`,
      generate: (split, count, seed) => {
        checkGenerateArgs('gsm8k', split, count, seed);
        const pool = pools[split];
        if (count > 0 && pool.length === 0) {
          throw new DatasetError(o.path, undefined, `the ${split} split is empty (${all.length} rows, testFraction ${o.testFraction}); set testPath`);
        }
        const out: PromptRecord[] = [];
        for (let pass = 0; out.length < count; pass++) {
          const order = new Rng(deriveSeed(seed, 'gsm8k', split, pass)).shuffle(pool.map((_, i) => i));
          for (const i of order.slice(0, count - out.length)) out.push(pool[i]!);
        }
        return out;
      },
      reward: () => reward,
      solve: (p) => (typeof p.metadata?.solution === 'string' ? p.metadata.solution : undefined),
    };
  },
});

export const createGsm8kTask = (options: Gsm8kOptions): Task => gsm8kDefinition.create(options);
