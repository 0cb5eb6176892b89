import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));
const packagesDir = join(root, 'packages');

/**
 * Tests run against source: every `@rftkit/<name>` import resolves to
 * `packages/<name>/src/index.ts` (and `@rftkit/tensor/testing` to the tensor test helpers), so no
 * build is needed before `pnpm test`.
 */
const aliases = [
  { find: '@rftkit/tensor/testing', replacement: join(packagesDir, 'tensor/src/testing/index.ts') },
  ...readdirSync(packagesDir).map((name) => ({
    find: new RegExp(`^@rftkit/${name}$`),
    replacement: join(packagesDir, name, 'src/index.ts'),
  })),
];

export function packageTestConfig(options: { timeoutMs?: number } = {}) {
  return defineConfig({
    resolve: { alias: aliases },
    test: {
      environment: 'node',
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      setupFiles: [join(root, 'packages/tensor/src/testing/setup.ts')],
      testTimeout: options.timeoutMs ?? 60_000,
      hookTimeout: 60_000,
      pool: 'forks',
      fileParallelism: false,
    },
  });
}
