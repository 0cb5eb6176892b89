import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, OptionsError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { verifyCountdown } from './countdown-solver';
import { taskDefinitions } from './definitions';
import { checkPromptLengths, createJsonlTask, describeSkipped, loadJsonlDataset } from './jsonl';

function tempFile(content: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'rftkit-jsonl-'));
  const path = join(dir, 'data.jsonl');
  writeFileSync(path, content);
  return path;
}
const row = (r: unknown) => JSON.stringify(r);

describe('JSONL encoding and ids', () => {
  it('accepts a leading byte-order mark', () => {
    const path = tempFile(`\uFEFF${row({ prompt: 'a', answer: 'b' })}\n${row({ prompt: 'c', answer: 'd' })}\n`);
    expect(loadJsonlDataset(path).prompts.map((p) => p.prompt)).toEqual(['a', 'c']);
  });
  it('rejects invalid UTF-8 naming the line', () => {
    const bad = Buffer.concat([Buffer.from(`${row({ prompt: 'a', answer: 'b' })}\n{"prompt":"`), Buffer.from([0xff, 0xfe]), Buffer.from('","answer":"x"}\n')]);
    const path = tempFile(bad);
    expect(() => loadJsonlDataset(path)).toThrow(DatasetError);
    expect(() => loadJsonlDataset(path)).toThrow(/2.*UTF-8|UTF-8.*2/s);
  });
  it.each(['\u001b[31mred', 'a\u0007b', 'x\u009by', 'tab\there'])('rejects control characters in id %j', (id) => {
    const path = tempFile(row({ id, prompt: 'a', answer: 'b' }));
    expect(() => loadJsonlDataset(path, { idField: 'id' })).toThrow(/control character/);
  });
  it('keeps CRLF files working', () => {
    const path = tempFile(`${row({ prompt: 'a', answer: 'b' })}\r\n${row({ prompt: 'c', answer: 'd' })}\r\n`);
    expect(loadJsonlDataset(path).prompts.map((p) => p.reference)).toEqual(['b', 'd']);
  });
});

describe('skipped rows are reported', () => {
  it('counts them and names the first few lines', () => {
    const lines = [row({ prompt: 'a', answer: 'b' }), 'nope', row({ prompt: 1, answer: 'x' }), '[]', '{}', '{'];
    const path = tempFile(lines.join('\n'));
    const { skipped } = loadJsonlDataset(path, { onInvalid: 'skip' });
    const note = describeSkipped('data.jsonl', skipped);
    expect(note).toMatch(/^data\.jsonl: skipped 5 invalid rows \(line 2: invalid JSON.*; line 3: field 'prompt' must be a string.*; line 4: not a JSON object; … 2 more\)$/);
    const task = createJsonlTask({ path, onInvalid: 'skip' });
    expect(task.description).toMatch(/skipped 5 invalid rows/);
  });
});

describe('checkPromptLengths', () => {
  const prompts = [
    { id: 'short', prompt: 'a b' },
    { id: 'long', prompt: 'a b c d e' },
  ];
  const words = (s: string) => s.split(' ').length;
  it('throws naming the first prompt over the limit', () => {
    expect(() => checkPromptLengths(prompts, words, 4, 'data.jsonl')).toThrow(/prompt 'long' is 5 tokens, longer than the 4/);
    expect(() => checkPromptLengths(prompts, words, 5)).not.toThrow();
  });
  it('validates the limit', () => {
    expect(() => checkPromptLengths(prompts, words, 0)).toThrow(/maxPromptTokens/);
  });
});

describe('countdown refuses signs', () => {
  it.each([
    ['3+5*2', true],
    ['+3+5*2', false],
    ['3+(+5)*2', false],
    ['-3+5*2+6', false],
  ])('%s', (answer, ok) => {
    expect(verifyCountdown(answer, [3, 5, 2], 13)).toBe(ok);
  });
});

describe('strict task options', () => {
  for (const def of taskDefinitions) {
    it(`${def.id} rejects an unknown option naming it`, () => {
      expect(() => def.create({ path: 'x.jsonl', typo: 1 } as never)).toThrow(OptionsError);
      expect(() => def.create({ path: 'x.jsonl', typo: 1 } as never)).toThrow(/typo/);
    });
  }
});
