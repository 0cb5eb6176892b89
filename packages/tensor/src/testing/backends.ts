import { beforeAll, describe } from 'vitest';
import { type BackendName, selectBackend } from '../backend';

/**
 * Backends the test suites run on: `RFTKIT_TEST_BACKENDS` (comma list) or cpu and wasm.
 * Add `tensorflow` where tfjs-node is installed.
 */
export function testBackends(): Array<Exclude<BackendName, 'auto'>> {
  const raw = process.env.RFTKIT_TEST_BACKENDS ?? 'cpu,wasm';
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as Array<Exclude<BackendName, 'auto'>>;
}

/** Declares the suite once per backend; each copy runs with that backend active. */
export function describeBackends(name: string, suite: (backend: Exclude<BackendName, 'auto'>) => void): void {
  for (const backend of testBackends()) {
    describe(`${name} [${backend}]`, () => {
      beforeAll(async () => {
        await selectBackend(backend);
      });
      suite(backend);
    });
  }
}
