import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDirAtomic, writeFileAtomic } from './atomic';

describe('atomic writes', () => {
  it('writes and replaces a file, leaving no temp files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rftkit-atomic-'));
    const file = join(dir, 'a.json');
    await writeFileAtomic(file, '1');
    await writeFileAtomic(file, '2');
    expect(readFileSync(file, 'utf8')).toBe('2');
    expect(readdirSync(dir)).toEqual(['a.json']);
  });

  it('replaces a directory whole; a failing fill leaves the old one intact', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rftkit-atomic-'));
    const target = join(root, 'ckpt');
    await writeDirAtomic(target, async (tmp) => writeFile(join(tmp, 'v'), 'one'));
    await expect(
      writeDirAtomic(target, async (tmp) => {
        await writeFile(join(tmp, 'v'), 'two');
        throw new Error('killed mid-write');
      }),
    ).rejects.toThrow('killed mid-write');
    expect(readFileSync(join(target, 'v'), 'utf8')).toBe('one');
    await writeDirAtomic(target, async (tmp) => writeFile(join(tmp, 'v'), 'three'));
    expect(readFileSync(join(target, 'v'), 'utf8')).toBe('three');
    expect(readdirSync(root)).toEqual(['ckpt']);
    expect(existsSync(join(target, 'v'))).toBe(true);
  });
});
