import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '@rftkit/core';
import { selectBackend } from './backend';

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
