import { describe, expect, it } from 'vitest';
import { ARITHMETIC_ALPHABET, createArithmeticTask } from './arithmetic';

const task = createArithmeticTask();
const rec = (p: string) => ({ id: p, prompt: p });
const score = async (p: string, completion: string) =>
  (await task.reward().score([{ prompt: rec(p), completion, finishReason: 'stop' }]))[0];

describe('arithmetic verifier', () => {
  it.each([
    ['(7+5)*3-4=', '32'],
    ['(7+5)*3-4=', ' 32 '],
    ['(7+5)*3-4=', '12*3-4=36-4=32'],
    ['2-3*4=', '-10'],
    ['9-(2-8)=', '15'],
  ])('accepts %s %s', async (p, a) => {
    expect(await score(p, a)).toBe(1);
  });
  it.each([
    ['(7+5)*3-4=', '31'],
    ['(7+5)*3-4=', '32=31'],
    ['(7+5)*3-4=', '32.0'],
    ['(7+5)*3-4=', '3 2'],
    ['(7+5)*3-4=', 'abc'],
    ['(7+5)*3-4=', ''],
  ])('rejects %s %s', async (p, a) => {
    expect(await score(p, a)).toBe(0);
  });
  it('refuses prompts of another format', () => {
    expect(() => task.reward().score([{ prompt: rec('3 5 8>19:'), completion: '2', finishReason: 'stop' }])).toThrow(/not an arithmetic prompt/);
  });
});

describe('arithmetic solver', () => {
  it('gives the answer, or the worked steps', () => {
    expect(task.solve!(rec('(7+5)*3-4='), Math.random)).toBe('32');
    const worked = createArithmeticTask({ worked: true });
    expect(worked.solve!(rec('(7+5)*3-4='), Math.random)).toBe('12*3-4=36-4=32');
    expect(worked.solve!(rec('2-3*4='), Math.random)).toBe('2-12=-10');
    expect(worked.solve!(rec('1-5-(2*3)='), Math.random)).toBe('(-4)-2*3=(-4)-6=-10');
    expect(worked.solve!(rec('1-(2-8)*2='), Math.random)).toBe('1-(-6)*2=1-(-12)=13');
  });
  it('solutions always verify, worked or not', async () => {
    for (const t of [task, createArithmeticTask({ worked: true, operands: 4 })]) {
      const records = t.generate('train', 100, 4);
      const scores = await t.reward().score(records.map((r) => ({ prompt: r, completion: t.solve!(r, Math.random)!, finishReason: 'stop' as const })));
      expect(scores.every((s) => s === 1)).toBe(true);
      for (const r of records) expect(t.solve!(r, Math.random)).toMatch(new RegExp(`(^|=)${r.reference!.replace('-', '\\-')}$`));
    }
  });
});

describe('arithmetic generator', () => {
  it('is deterministic and keeps train and test disjoint', () => {
    expect(task.generate('test', 40, 9)).toEqual(task.generate('test', 40, 9));
    const train = new Set([0, 1, 2].flatMap((s) => task.generate('train', 200, s)).map((r) => r.prompt));
    const test = [0, 1, 2].flatMap((s) => task.generate('test', 100, s));
    expect(test.filter((r) => train.has(r.prompt))).toEqual([]);
  });
  it('respects its options and fits a 64-token character model with worked answers', () => {
    const flat = createArithmeticTask({ parentheses: false, ops: '+', operands: 4, maxOperand: 5, worked: true });
    for (const r of flat.generate('train', 50, 1)) {
      expect(r.prompt).toMatch(/^[0-5](\+[0-5]){3}=$/);
    }
    for (const r of createArithmeticTask({ worked: true }).generate('train', 200, 2)) {
      const s = createArithmeticTask({ worked: true }).solve!(r, Math.random)!;
      expect(1 + r.prompt.length + s.length + 1).toBeLessThanOrEqual(64);
      for (const ch of r.prompt + s) expect(ARITHMETIC_ALPHABET).toContain(ch);
    }
    expect(() => createArithmeticTask({ ops: '+/' })).toThrow(/ops/);
  });
});
