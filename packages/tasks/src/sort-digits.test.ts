import { describe, expect, it } from 'vitest';
import { createSortDigitsTask } from './sort-digits';

const task = createSortDigitsTask();
const rec = (p: string) => ({ id: p, prompt: p });

describe('sort-digits', () => {
  it('verifies hand-checked answers', async () => {
    const inputs = [
      ['53819:', '13589'],
      ['53819:', ' 13589\n'],
      ['53819:', '13598'],
      ['53819:', '1358'],
      ['5501:', '0155'],
      ['5501:', '155'],
    ].map(([p, c]) => ({ prompt: rec(p!), completion: c!, finishReason: 'stop' as const }));
    expect(await task.reward().score(inputs)).toEqual([1, 1, 0, 0, 1, 0]);
    expect(await createSortDigitsTask({ descending: true }).reward().score([{ prompt: rec('5501:'), completion: '5510', finishReason: 'stop' }])).toEqual([1]);
    expect(() => task.reward().score([{ prompt: rec('1+1='), completion: '2', finishReason: 'stop' }])).toThrow(/not a sort-digits prompt/);
  });

  it('generates deterministic, disjoint splits whose solutions verify', async () => {
    expect(task.generate('train', 30, 5)).toEqual(task.generate('train', 30, 5));
    const train = new Set([0, 1].flatMap((s) => task.generate('train', 500, s)).map((r) => r.prompt));
    const test = [0, 1].flatMap((s) => task.generate('test', 100, s));
    expect(test.filter((r) => train.has(r.prompt))).toEqual([]);
    const scores = await task.reward().score(test.map((r) => ({ prompt: r, completion: task.solve!(r, Math.random)!, finishReason: 'stop' as const })));
    expect(scores.every((s) => s === 1)).toBe(true);
    for (const r of test) expect(r.prompt.length - 1).toBeGreaterThanOrEqual(3);
    expect(() => createSortDigitsTask({ minLength: 5, maxLength: 4 })).toThrow(/maxLength/);
  });
});
