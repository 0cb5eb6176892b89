import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineComponent } from './component';
import { OptionsError } from './errors';

const define = <S extends z.ZodType>(schema: S) =>
  defineComponent({ id: 'mine', family: 'advantage', description: 'test', schema, build: (o) => o });

const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

describe('defineComponent', () => {
  it('makes a plain z.object strict: a misspelt option names the key', () => {
    const def = define(z.object({ factor: z.number().default(2) }));
    const err = thrown(() => def.create({ factr: 3 } as never));
    expect(err).toBeInstanceOf(OptionsError);
    expect((err as OptionsError).message).toContain('factr');
    expect((err as OptionsError).message).toContain('advantage:mine');
    expect(def.create({ factor: 3 })).toEqual({ factor: 3 });
  });

  it('keeps z.looseObject as the opt-out: unknown keys pass through', () => {
    const def = define(z.looseObject({ factor: z.number().default(2) }));
    expect(def.create({ extra: 1 } as never)).toEqual({ factor: 2, extra: 1 });
  });

  it('uses non-object schemas as given', () => {
    const def = define(z.object({ a: z.number() }).transform((o) => o.a * 2));
    expect(def.create({ a: 2 })).toBe(4);
  });
});
