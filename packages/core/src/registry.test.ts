import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineComponent } from './component';
import { ComponentModuleError, DuplicateComponentError, OptionsError, type RftError, UnknownComponentError } from './errors';
import { loadComponentModule, Registry } from './registry';

const scale = defineComponent({
  id: 'scale',
  family: 'advantage',
  description: 'multiplies by a factor',
  schema: z.object({ factor: z.number().positive().default(2) }).strict(),
  build: (o) => ({ id: 'scale', apply: (x: number) => x * o.factor }),
});

describe('Registry', () => {
  it('creates components by id with defaults filled in', () => {
    const reg = new Registry('advantage', [scale]);
    expect((reg.create('scale') as { apply(x: number): number }).apply(3)).toBe(6);
    expect((reg.create({ use: 'scale', with: { factor: 5 } }) as { apply(x: number): number }).apply(3)).toBe(15);
  });

  it('unknown id lists the ids that exist, with a stable code', () => {
    const reg = new Registry('advantage', [scale]);
    const err = (() => {
      try {
        reg.create('grpoo');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UnknownComponentError);
    expect((err as RftError).code).toBe('E_UNKNOWN_COMPONENT');
    expect((err as Error).message).toContain("Unknown advantage 'grpoo'. Available: scale.");
  });

  it('bad options name the component and the field', () => {
    const reg = new Registry('advantage', [scale]);
    expect(() => reg.create({ use: 'scale', with: { factor: -1 } })).toThrow(OptionsError);
    expect(() => reg.create({ use: 'scale', with: { factor: -1 } })).toThrow(/advantage:scale[\s\S]*factor/);
    expect(() => reg.create({ use: 'scale', with: { facter: 1 } })).toThrow(/facter/);
  });

  it('rejects duplicates and definitions of another family', () => {
    const reg = new Registry('advantage', [scale]);
    expect(() => reg.register(scale)).toThrow(DuplicateComponentError);
    expect(() => new Registry('reward', [scale])).toThrow(/not a 'reward' component/);
  });

  it('loads user components from a module path, all or one named export', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rftkit-registry-'));
    const file = join(dir, 'mine.mjs');
    writeFileSync(
      file,
      `export const mine = { id: 'mine', family: 'advantage', description: 'd', specVersion: 1, schema: null, create: () => ({ id: 'mine' }) };
       export const other = { id: 'other', family: 'reward', description: 'd', specVersion: 1, schema: null, create: () => ({}) };
       export const notAComponent = 3;`,
    );
    const all = await loadComponentModule('./mine.mjs', { baseDir: dir, family: 'advantage' });
    expect(all.map((d) => d.id)).toEqual(['mine']);
    const one = await loadComponentModule(`${file}#other`);
    expect(one.map((d) => d.id)).toEqual(['other']);
    await expect(loadComponentModule(`${file}#nope`)).rejects.toThrow(/no export named 'nope'/);
    await expect(loadComponentModule('./missing.mjs', { baseDir: dir })).rejects.toThrow(ComponentModuleError);
    await expect(loadComponentModule(`${file}#notAComponent`)).rejects.toThrow(/exports no/);
  });
});
