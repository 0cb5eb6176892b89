import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { taskDefinitions } from './definitions';
import { createJsonlTask, loadJsonlDataset } from './jsonl';

const fixtures = join(import.meta.dirname, '__fixtures__');
const mixed = join(fixtures, 'mixed.jsonl');

function tempJsonl(rows: unknown[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'rftkit-jsonl-'));
  const path = join(dir, 'data.jsonl');
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n'));
  return path;
}

describe('loadJsonlDataset', () => {
  it('skips malformed rows and reports them with line numbers', () => {
    const { prompts, skipped } = loadJsonlDataset(mixed, { onInvalid: 'skip' });
    expect(prompts).toEqual([
      { id: 'mixed.jsonl:1', prompt: '2+2=', reference: '4', metadata: { level: 1 } },
      { id: 'mixed.jsonl:7', prompt: '5-1=', reference: '4' },
    ]);
    expect(skipped.map((s) => s.line)).toEqual([2, 3, 5, 6]);
    expect(skipped[0]!.reason).toBe("field 'answer' must be a string, got number");
    expect(skipped[1]!.reason).toMatch(/^invalid JSON/);
    expect(skipped[2]!.reason).toBe("missing field 'prompt' (or 'messages')");
    expect(skipped[3]!.reason).toBe('not a JSON object');
  });

  it("rejects the file at the first bad line with onInvalid 'error' (the default)", () => {
    let error: unknown;
    try {
      loadJsonlDataset(mixed);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).line).toBe(2);
    expect((error as DatasetError).message).toBe(`${mixed}:2: field 'answer' must be a string, got number`);
  });

  it('uses custom fields and ids, and rejects duplicate ids', () => {
    const path = tempJsonl([
      { q: 'a?', a: 'x', key: 7 },
      { q: 'b?', a: 'y', key: 'k' },
      { q: 'c?', a: 'z', key: 7 },
    ]);
    const { prompts, skipped } = loadJsonlDataset(path, { promptField: 'q', answerField: 'a', idField: 'key', onInvalid: 'skip' });
    expect(prompts.map((p) => [p.id, p.prompt, p.reference])).toEqual([
      ['7', 'a?', 'x'],
      ['k', 'b?', 'y'],
    ]);
    expect(skipped).toEqual([{ line: 3, reason: "duplicate id '7'" }]);
  });

  it('names a missing file', () => {
    expect(() => loadJsonlDataset('/nonexistent/x.jsonl')).toThrow(/\/nonexistent\/x.jsonl: cannot read file/);
  });
});

describe('jsonl task', () => {
  const rows = Array.from({ length: 200 }, (_, i) => ({ prompt: `${i}+1=`, answer: String(i + 1) }));
  const path = tempJsonl(rows);

  it('splits by prompt into disjoint train/test, deterministically', () => {
    const task = createJsonlTask({ path, testFraction: 0.25 });
    const train = task.generate('train', 1000, 3);
    const test = task.generate('test', 1000, 3);
    const trainPrompts = new Set(train.map((r) => r.prompt));
    expect(test.some((r) => trainPrompts.has(r.prompt))).toBe(false);
    expect(trainPrompts.size + new Set(test.map((r) => r.prompt)).size).toBe(200);
    expect(task.generate('train', 10, 3)).toEqual(train.slice(0, 10));
    expect(task.generate('train', 10, 4)).not.toEqual(train.slice(0, 10));
  });

  it('scores with exact match by default, or a reward chosen by id', async () => {
    const task = createJsonlTask({ path });
    const [p] = task.generate('train', 1, 0);
    const solved = task.solve!(p!, Math.random)!;
    expect(await task.reward().score([{ prompt: p!, completion: ` ${solved} `, finishReason: 'stop' }])).toEqual([1]);
    const numeric = createJsonlTask({ path, reward: { use: 'numeric-match' } });
    expect(await numeric.reward().score([{ prompt: p!, completion: `it is ${solved}.0`, finishReason: 'stop' }])).toEqual([1]);
    expect(() => createJsonlTask({ path, reward: 'nope' })).toThrow(/Unknown reward 'nope'/);
    expect(task.alphabet!()).toBe('+0123456789=');
  });

  it('takes a separate test file and resolves paths against baseDir', () => {
    const task = createJsonlTask({ path: 'mixed.jsonl', testPath: 'mixed.jsonl', baseDir: fixtures, onInvalid: 'skip' });
    expect(task.generate('test', 2, 0).map((r) => r.id).sort()).toEqual(['mixed.jsonl:1', 'mixed.jsonl:7']);
    expect(() => createJsonlTask({ path: 'mixed.jsonl', baseDir: fixtures })).toThrow(DatasetError);
  });

  it('is registered with the other tasks', () => {
    expect(taskDefinitions.map((d) => d.id)).toEqual(['countdown', 'arithmetic', 'sort-digits', 'gsm8k', 'jsonl']);
    expect(taskDefinitions.every((d) => d.family === 'task')).toBe(true);
  });
});
