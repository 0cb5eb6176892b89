// The package layering of docs/architecture.md, checked against every package's
// package.json and the import statements of its src/**/*.ts, so the rules cannot rot.
// Test support (*.test.ts, *.bench.ts, files under test-utils/, testing/, __fixtures__/)
// is checked separately from the code a package ships.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

interface Manifest {
  name: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface SourceImport {
  file: string; // relative to the repository root
  specifier: string;
  test: boolean;
}

interface Pkg {
  dir: string;
  json: Manifest;
  imports: SourceImport[];
}

const TEST_FILE = /(\.test\.ts|\.bench\.ts)$|\/(test-utils|testing|__fixtures__)\//;
// `from '...'` (import/export), side-effect `import '...'`, dynamic `import('...')`, `vi.mock('...')`.
const IMPORT = /\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]|\bvi\.mock\(\s*['"]([^'"]+)['"]/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(path);
    // This file's own examples of broken rules are not imports.
    return e.name.endsWith('.ts') && path !== import.meta.filename ? [path] : [];
  });
}

export function importsOf(path: string, text: string): SourceImport[] {
  const file = relative(root, path);
  const test = TEST_FILE.test(`/${file}`);
  return [...text.matchAll(IMPORT)].map((m) => ({ file, specifier: m[1] ?? m[2] ?? m[3] ?? '', test }));
}

function loadPackages(): Pkg[] {
  const base = join(root, 'packages');
  return readdirSync(base).map((name) => {
    const dir = join(base, name);
    const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    const imports = tsFiles(join(dir, 'src')).flatMap((f) => importsOf(f, readFileSync(f, 'utf8')));
    return { dir, json, imports };
  });
}

const rftkitName = (specifier: string): string | undefined => /^(@rftkit\/[^/]+)/.exec(specifier)?.[1];
const show = (i: SourceImport, rule: string) => `${i.file}: import '${i.specifier}' breaks: ${rule}`;

/** Every broken rule as a message naming the file (or package.json), the import and the rule. */
export function layeringViolations(packages: Pkg[]): string[] {
  const out: string[] = [];
  for (const p of packages) {
    const name = p.json.name;
    const deps = { ...p.json.dependencies, ...p.json.peerDependencies };
    const devDeps = p.json.devDependencies ?? {};
    for (const i of p.imports) {
      const dep = rftkitName(i.specifier);
      const where = i.test ? 'tests' : 'src';
      if (name === '@rftkit/core') {
        if (dep) out.push(show(i, '@rftkit/core imports no @rftkit package'));
        if (i.specifier.startsWith('@tensorflow/') && i.specifier !== '@tensorflow/tfjs-core')
          out.push(show(i, "@rftkit/core uses only the public API of '@tensorflow/tfjs-core' (no backend, kernel or dist/ module)"));
      }
      if ((name === '@rftkit/rewards' || name === '@rftkit/tasks') && dep === '@rftkit/tensor')
        out.push(show(i, `${name} never imports @rftkit/tensor (${where})`));
      if (
        ['@rftkit/advantages', '@rftkit/losses', '@rftkit/regularizers', '@rftkit/rollout'].includes(name) &&
        dep === '@rftkit/tensor' &&
        !i.test
      )
        out.push(show(i, `${name} imports @rftkit/tensor only from tests`));
      if (/^rftkit-(runner|bench)$/.test(i.specifier) || /(^|\/)(apps|bench)\//.test(i.specifier))
        out.push(show(i, 'no package imports apps/ or bench/'));
      if (dep && dep !== name) {
        if (!i.test && !(dep in deps))
          out.push(show(i, `every @rftkit import in src is in ${name}'s dependencies (or peerDependencies)`));
        if (i.test && !(dep in deps) && !(dep in devDeps))
          out.push(show(i, `every @rftkit import in tests is declared in ${name}'s package.json`));
      }
    }
    if (!p.json.private) {
      for (const field of ['dependencies', 'peerDependencies'] as const)
        if (p.json[field]?.['@rftkit/test-kit'])
          out.push(`${relative(root, p.dir)}/package.json: ${field} has '@rftkit/test-kit' breaks: a published package takes @rftkit/test-kit only as a devDependency`);
    }
  }
  return out;
}

describe('package layering', () => {
  const packages = loadPackages();

  it('finds every package and its imports', () => {
    const names = packages.map((p) => p.json.name);
    for (const n of ['@rftkit/core', '@rftkit/tensor', '@rftkit/rewards', '@rftkit/trainer', '@rftkit/test-kit'])
      expect(names).toContain(n);
    const core = packages.find((p) => p.json.name === '@rftkit/core');
    expect(core?.imports.some((i) => i.specifier === '@tensorflow/tfjs-core' && !i.test)).toBe(true);
  });

  it('keeps every layering rule', () => {
    expect(layeringViolations(packages)).toEqual([]);
  });

  it('names the file, the import and the rule when a rule is broken', () => {
    const fake = (name: string, file: string, text: string, json: Partial<Manifest> = {}): Pkg => ({
      dir: join(root, 'packages', name.replace('@rftkit/', '')),
      json: { name, ...json },
      imports: importsOf(join(root, 'packages', name.replace('@rftkit/', ''), 'src', file), text),
    });
    const broken = [
      fake('@rftkit/core', 'x.ts', "import { a } from '@rftkit/tensor';\nimport '@tensorflow/tfjs-core/dist/ops/ops';"),
      fake('@rftkit/rewards', 'x.test.ts', "import { b } from '@rftkit/tensor';", { devDependencies: { '@rftkit/tensor': '*' } }),
      fake('@rftkit/losses', 'x.ts', "export { c } from '@rftkit/tensor';", { dependencies: { '@rftkit/tensor': '*' } }),
      fake('@rftkit/trainer', 'x.ts', "const m = await import('../../../apps/runner/src/cli.ts');"),
      fake('@rftkit/policy', 'x.ts', "import {\n  d,\n} from '@rftkit/hf';", { devDependencies: { '@rftkit/hf': '*' } }),
      fake('@rftkit/rollout', 'x.ts', '', { dependencies: { '@rftkit/test-kit': '*' } }),
    ];
    expect(layeringViolations(broken)).toEqual([
      "packages/core/src/x.ts: import '@rftkit/tensor' breaks: @rftkit/core imports no @rftkit package",
      "packages/core/src/x.ts: import '@rftkit/tensor' breaks: every @rftkit import in src is in @rftkit/core's dependencies (or peerDependencies)",
      "packages/core/src/x.ts: import '@tensorflow/tfjs-core/dist/ops/ops' breaks: @rftkit/core uses only the public API of '@tensorflow/tfjs-core' (no backend, kernel or dist/ module)",
      "packages/rewards/src/x.test.ts: import '@rftkit/tensor' breaks: @rftkit/rewards never imports @rftkit/tensor (tests)",
      "packages/losses/src/x.ts: import '@rftkit/tensor' breaks: @rftkit/losses imports @rftkit/tensor only from tests",
      "packages/trainer/src/x.ts: import '../../../apps/runner/src/cli.ts' breaks: no package imports apps/ or bench/",
      "packages/policy/src/x.ts: import '@rftkit/hf' breaks: every @rftkit import in src is in @rftkit/policy's dependencies (or peerDependencies)",
      "packages/rollout/package.json: dependencies has '@rftkit/test-kit' breaks: a published package takes @rftkit/test-kit only as a devDependency",
    ]);
  });
});
