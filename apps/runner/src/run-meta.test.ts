import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from './presets';
import { gitInfo } from './run-meta';

const scratch = mkdtempSync(join(tmpdir(), 'rft-meta-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('run.json git info', () => {
  it('is the checkout commit when the package is a tracked folder of rftkit', () => {
    const head = execFileSync('git', ['-C', PACKAGE_ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(gitInfo()?.commit).toBe(head);
    expect(gitInfo()?.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('is absent outside git, and for a package that another repository does not track (node_modules)', () => {
    const plain = join(scratch, 'plain');
    execFileSync('mkdir', ['-p', plain]);
    copyFileSync(join(PACKAGE_ROOT, 'package.json'), join(plain, 'package.json'));
    expect(gitInfo(plain)).toBeUndefined();
    const repo = join(scratch, 'user-repo');
    const pkg = join(repo, 'node_modules', 'rftkit');
    execFileSync('mkdir', ['-p', pkg]);
    execFileSync('git', ['init', '-q', repo]);
    copyFileSync(join(PACKAGE_ROOT, 'package.json'), join(pkg, 'package.json'));
    expect(gitInfo(pkg)).toBeUndefined();
  });
});
