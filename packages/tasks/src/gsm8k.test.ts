import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, type PromptRecord } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { taskDefinitions } from './definitions';
import { createGsm8kTask, extractGsm8kAnswer, gsm8kReference, gsm8kReward, loadGsm8kRows } from './gsm8k';

const SAMPLE = join(import.meta.dirname, '../../../configs/data/gsm8k-sample.jsonl');

function tempJsonl(lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'rftkit-gsm8k-')), 'rows.jsonl');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const score = async (completion: string, reference: string) => {
  const prompt: PromptRecord = { id: 'q', prompt: 'q', reference };
  const [s] = await gsm8kReward().score([{ prompt, completion, finishReason: 'stop' }]);
  return s;
};

describe('extractGsm8kAnswer', () => {
  const value = (c: string) => extractGsm8kAnswer(c)?.toNumber();
  it('takes the last `#### n`, else the last \\boxed{n}', () => {
    expect(value('3 + 4 = 7\n#### 7')).toBe(7);
    expect(value('#### 5\nwait, recount\n#### 6')).toBe(6);
    // The marker wins over a later boxed answer; boxed is only the fallback.
    expect(value('#### 12 so \\boxed{13}')).toBe(12);
    expect(value('so the answer is \\boxed{42}.')).toBe(42);
    expect(value('\\boxed{1} no, \\boxed{2}')).toBe(2);
    expect(value('\\boxed{\\$1,200}')).toBe(1200);
    // A `####` without a number falls back to the boxed answer.
    expect(value('#### unsure \\boxed{9}')).toBe(9);
  });

  it('reads commas, signs, dollars, decimals and a closing period', () => {
    expect(value('#### 1,234')).toBe(1234);
    expect(value('#### $18')).toBe(18);
    expect(value('#### -8')).toBe(-8);
    expect(value('#### 72.0')).toBe(72);
    expect(value('#### 0.5')).toBe(0.5);
    expect(value('####18.')).toBe(18);
    expect(value('#### 1,000,000 people')).toBe(1_000_000);
  });

  it('gives nothing for completions without a final answer', () => {
    for (const c of ['', 'The answer is 42.', '####', '#### x', '\\boxed{x+1}', '\\boxed{}', '\\boxed{4', '## 4', '#### ,5']) {
      expect(extractGsm8kAnswer(c), JSON.stringify(c)).toBeUndefined();
    }
  });
});

describe('gsm8k reward', () => {
  it('compares numerically, tolerant of commas and a trailing .0', async () => {
    expect(await score('#### 4230', '4,230')).toBe(1);
    expect(await score('#### 4,230.0', '4230')).toBe(1);
    expect(await score('\\boxed{29.00}', '29')).toBe(1);
    expect(await score('#### 29.5', '29')).toBe(0);
    expect(await score('#### 2923', '29')).toBe(0);
    // A number elsewhere in the text is not an answer.
    expect(await score('I think 29 is right', '29')).toBe(0);
    // The last answer counts, even when an earlier one was right.
    expect(await score('#### 29\nactually\n#### 30', '29')).toBe(0);
    expect(await score('#### -8', '-8')).toBe(1);
  });

  it('a prompt whose reference is not a number is a dataset error', async () => {
    await expect(score('#### 1', 'many')).rejects.toThrow(/reference 'many' is not a number/);
  });
});

describe('gsm8k rows', () => {
  it('reads the shipped sample: prompt = question + instruction, reference = the `####` number', () => {
    const rows = loadGsm8kRows(SAMPLE, 'Answer after ####.');
    expect(rows.length).toBeGreaterThanOrEqual(8);
    expect(rows[0]).toMatchObject({ id: 'gsm8k-sample.jsonl:1', reference: '34' });
    expect(rows[0]!.prompt.endsWith('\nAnswer after ####.')).toBe(true);
    expect(rows.find((r) => r.reference === '4,230')).toBeDefined();
    // Every shipped solution scores 1 against its own reference.
    const reward = gsm8kReward();
    const scores = reward.score(rows.map((prompt) => ({ prompt, completion: prompt.metadata!.solution as string, finishReason: 'stop' as const })));
    expect(scores).toEqual(rows.map(() => 1));
  });

  it('malformed rows fail naming the file, line and field', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"question": "q"}', /rows\.jsonl:1: missing field 'answer'/],
      ['{"answer": "#### 1"}', /rows\.jsonl:1: missing field 'question'/],
      ['{"question": 3, "answer": "#### 1"}', /field 'question' must be a non-empty string/],
      ['{"question": "q", "answer": "it is 4"}', /field 'answer' must end with '#### <number>'/],
      ['{"question": "q", "answer": "#### four"}', /ends with '#### four', which is not a number/],
      ['{"question": "q", "answer": "#### 4\\nmore text"}', /field 'answer' must end with '#### <number>'/],
      ['[1]', /not a JSON object/],
      ['{oops', /invalid JSON/],
    ];
    for (const [line, message] of cases) {
      const path = tempJsonl([line]);
      expect(() => loadGsm8kRows(path, ''), line).toThrow(DatasetError);
      expect(() => loadGsm8kRows(path, ''), line).toThrow(message);
    }
    const second = tempJsonl(['{"question": "ok", "answer": "#### 1"}', '', '{"question": "q"}']);
    expect(() => loadGsm8kRows(second, '')).toThrow(/rows\.jsonl:3: missing field 'answer'/);
    expect(gsm8kReference('x\n#### 1,000')).toBe('1,000');
  });

  it('the task is registered, splits by testPath and draws seeded prompts', () => {
    expect(taskDefinitions.map((d) => d.id)).toContain('gsm8k');
    const task = createGsm8kTask({ path: SAMPLE, testPath: SAMPLE, instruction: '' });
    const a = task.generate('train', 5, 1);
    expect(a).toEqual(task.generate('train', 5, 1));
    expect(new Set(a.map((r) => r.id)).size).toBe(5);
    expect(task.solve?.(a[0]!, Math.random)).toContain('####');
    expect(() => createGsm8kTask({ path: SAMPLE, extra: 1 } as never)).toThrow(/extra/);
  });
});
