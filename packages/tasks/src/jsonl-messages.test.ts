// JSONL rows holding a conversation (`messages`) instead of a prompt.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import { createJsonlTask, loadJsonlDataset } from './jsonl';

function tempJsonl(rows: unknown[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'rftkit-jsonl-msg-'));
  const path = join(dir, 'chat.jsonl');
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return path;
}

const convo = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: '4' },
  { role: 'user', content: 'And 3+3?' },
];

describe('JSONL conversations', () => {
  it('a row may carry messages instead of prompt; its prompt text is the last user turn', () => {
    const path = tempJsonl([{ messages: convo, answer: '6', level: 2 }, { prompt: '1+1=', answer: '2' }]);
    const { prompts } = loadJsonlDataset(path);
    expect(prompts[0]).toEqual({ id: 'chat.jsonl:1', prompt: 'And 3+3?', messages: convo, reference: '6', metadata: { level: 2 } });
    expect(prompts[1]).toEqual({ id: 'chat.jsonl:2', prompt: '1+1=', reference: '2' });
    // The task passes the conversation through to the rollout engine.
    const task = createJsonlTask({ path, testPath: path });
    expect(task.generate('train', 2, 0).find((r) => r.messages)?.messages).toEqual(convo);
  });

  it('malformed conversations fail naming the line and the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ messages: [], answer: '1' }, /chat\.jsonl:1: field 'messages' must be a non-empty array/],
      [{ messages: 'hi', answer: '1' }, /chat\.jsonl:1: field 'messages' must be a non-empty array/],
      [{ messages: [{ role: 'bot', content: 'x' }], answer: '1' }, /chat\.jsonl:1: field 'messages\[0\]\.role' must be 'system', 'user' or 'assistant', got "bot"/],
      [{ messages: [{ role: 'user', content: 3 }], answer: '1' }, /field 'messages\[0\]\.content' must be a string, got number/],
      [{ messages: [{ role: 'user', content: 'x', name: 'a' }], answer: '1' }, /field 'messages\[0\]' has unknown key 'name'/],
      [{ messages: ['x'], answer: '1' }, /field 'messages\[0\]' must be an object/],
      [{ messages: convo.slice(0, 3), answer: '1' }, /field 'messages\[2\]\.role' is 'assistant', but the last message must be the user's/],
      [{ messages: [convo[1], convo[0], convo[1]], answer: '1' }, /field 'messages\[1\]\.role' is 'system', which is allowed only as the first message/],
      [{ messages: convo, prompt: 'x', answer: '1' }, /has both 'prompt' and 'messages'/],
      [{ messages: convo }, /missing field 'answer'/],
      [{ answer: '1' }, /missing field 'prompt' \(or 'messages'\)/],
    ];
    for (const [row, message] of cases) {
      const path = tempJsonl([row]);
      expect(() => loadJsonlDataset(path), JSON.stringify(row)).toThrow(DatasetError);
      expect(() => loadJsonlDataset(path), JSON.stringify(row)).toThrow(message);
    }
    // Line numbers count from the top of the file.
    const path = tempJsonl([{ prompt: 'a', answer: 'b' }, { messages: [{ role: 'assistant', content: 'x' }], answer: '1' }]);
    expect(() => loadJsonlDataset(path)).toThrow(/chat\.jsonl:2: field 'messages\[0\]\.role' is 'assistant'/);
    expect(loadJsonlDataset(path, { onInvalid: 'skip' }).skipped.map((s) => s.line)).toEqual([2]);
  });

  it('messagesField renames the field', () => {
    const path = tempJsonl([{ chat: convo, answer: '6' }]);
    expect(loadJsonlDataset(path, { messagesField: 'chat' }).prompts[0]?.messages).toEqual(convo);
    expect(() => loadJsonlDataset(path)).toThrow(/missing field 'prompt' \(or 'messages'\)/);
  });
});
