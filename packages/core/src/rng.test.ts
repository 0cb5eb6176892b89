import { describe, expect, it } from 'vitest';
import { deriveSeed, Rng } from './rng';

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(sa);
  });

  it('derived streams depend on every path element', () => {
    const base = deriveSeed(7, 'rollout', 3, 0, 1);
    expect(deriveSeed(7, 'rollout', 3, 0, 1)).toBe(base);
    const variants = [
      deriveSeed(8, 'rollout', 3, 0, 1),
      deriveSeed(7, 'aepo', 3, 0, 1),
      deriveSeed(7, 'rollout', 4, 0, 1),
      deriveSeed(7, 'rollout', 3, 1, 1),
      deriveSeed(7, 'rollout', 3, 0, 2),
      deriveSeed(7, 'rollout', 3, 1, 0), // swapped indices must differ too
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('floats are uniform on [0,1): chi-square over 20 bins at 0.1%', () => {
    const rng = new Rng(123);
    const bins = new Array(20).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const u = rng.float();
      expect(u >= 0 && u < 1).toBe(true);
      bins[Math.floor(u * 20)]++;
    }
    const e = n / 20;
    const chi2 = bins.reduce((acc, o) => acc + (o - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(43.82); // df = 19, p = 0.001
  });

  it('normal draws have mean ≈ 0 and variance ≈ 1', () => {
    const rng = new Rng(5);
    const n = 50_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
  });

  it('state round-trips: a restored generator continues the same sequence', () => {
    const a = new Rng(9);
    a.float();
    const restored = new Rng(a.state());
    expect(Array.from({ length: 4 }, () => restored.nextUint32())).toEqual(Array.from({ length: 4 }, () => a.nextUint32()));
  });

  it('int rejects bad bounds and stays in range', () => {
    const rng = new Rng(1);
    expect(() => rng.int(0)).toThrow(/positive integer/);
    for (let i = 0; i < 1000; i++) expect(rng.int(3)).toBeLessThan(3);
  });
});
