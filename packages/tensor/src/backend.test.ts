import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '@rftkit/core';
import { describeBackend, selectBackend } from './backend';

const absent = (pkg: string) => `${pkg}: Cannot find package '${pkg}' imported from /app/node_modules/x.js`;
const tensorflowSkip = `tensorflow: install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA) next to rftkit (${absent('@tensorflow/tfjs-node-gpu')}; ${absent('@tensorflow/tfjs-node')})`;

describe('describeBackend', () => {
  it('is one short line naming the kernels, threads and what was passed over', () => {
    expect(describeBackend({ name: 'wasm', source: '@tensorflow/tfjs-backend-wasm', skipped: [tensorflowSkip], threads: 1, simd: 'simd' })).toBe(
      'backend: wasm (SIMD, 1 thread; tfjs-node not installed)',
    );
    expect(describeBackend({ name: 'wasm', source: 'w', skipped: [], threads: 4, simd: 'relaxed' })).toBe(
      'backend: wasm (relaxed SIMD, 4 threads)',
    );
    expect(describeBackend({ name: 'tensorflow', source: '@tensorflow/tfjs-node-gpu', skipped: [] })).toBe(
      'backend: tensorflow (tfjs-node-gpu)',
    );
  });

  it('a backend that is installed but fails says so, briefly', () => {
    const line = describeBackend({
      name: 'cpu',
      source: '@tensorflow/tfjs-backend-cpu',
      skipped: [tensorflowSkip, `wasm: ${'x'.repeat(200)}`],
    });
    expect(line).toMatch(/^backend: cpu \(tfjs-node not installed, wasm failed: x+\.\.\.\)$/);
    expect(line.length).toBeLessThan(120);
  });
});

describe('selectBackend', () => {
  it('activates cpu and wasm by name', async () => {
    expect((await selectBackend('cpu')).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect((await selectBackend('wasm')).name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('auto falls through to an available backend and says which and why', async () => {
    const logs: string[] = [];
    const chosen = await selectBackend('auto', { log: (m) => logs.push(m) });
    expect(['tensorflow', 'wasm', 'cpu']).toContain(chosen.name);
    expect(logs[0]).toMatch(new RegExp(`^backend: ${chosen.name}`));
    if (chosen.name !== 'tensorflow') expect(chosen.skipped[0]).toMatch(/^tensorflow: /);
    expect(logs[0]).not.toMatch(/Cannot find package|imported from/);
    expect(logs[0]?.length, chosen.skipped.join(' / ')).toBeLessThan(100);
  });

  it('a requested backend that is missing is a clear error', async () => {
    const hasNode = await import('@tensorflow/tfjs-node' as string).then(
      () => true,
      () => false,
    );
    if (hasNode) return; // only meaningful where tfjs-node is absent, as on the CI machines
    await expect(selectBackend('tensorflow')).rejects.toThrow(BackendUnavailableError);
    await expect(selectBackend('tensorflow')).rejects.toThrow(/install @tensorflow\/tfjs-node/);
  });

  it('an unknown backend name lists the allowed ones', async () => {
    await expect(selectBackend('gpu' as never)).rejects.toThrow(/allowed: auto, tensorflow, wasm, cpu/);
  });
});
