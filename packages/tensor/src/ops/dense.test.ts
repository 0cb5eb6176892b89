import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { DENSE } from '../kernels/wasm-dense';
import { describeBackends } from '../testing/backends';
import { seededTensor } from '../testing/random';
import { expectAllClose } from '../testing/close';
import { dense, denseComposite } from './dense';

const randn = seededTensor;

describeBackends('dense', (backend) => {
  for (const withBias of [true, false]) {
    for (const [N, K, M] of [
      [13, 7, 10],
      [64, 16, 24],
    ] as const) {
      it(`${N}×${K}·${K}×${M}${withBias ? ' + bias' : ''}: equals the composite op, values and gradients, without leaks`, () => {
        const x = randn([N, K], 1) as tf.Tensor2D;
        const w = randn([K, M], 2) as tf.Tensor2D;
        const b = randn([M], 3) as tf.Tensor1D;
        const g = randn([N, M], 4);
        const before = tf.memory().numTensors;
        const run = (f: typeof dense) => {
          const fn = (...t: tf.Tensor[]) => tf.sum(tf.mul(f(t[0] as tf.Tensor2D, t[1] as tf.Tensor2D, t[2] as tf.Tensor1D | undefined), g));
          const grads = tf.grads(fn)(withBias ? [x, w, b] : [x, w]);
          const y = f(x, w, withBias ? b : undefined);
          return [y, ...grads];
        };
        const fused = run(dense);
        if (backend === 'wasm') expect(tf.getKernel(DENSE, 'wasm')).toBeDefined();
        const comp = run(denseComposite);
        expect(fused.length).toBe(withBias ? 4 : 3);
        ['y', 'dx', 'dw', 'db'].slice(0, fused.length).forEach((what, i) => {
          expect(fused[i]!.shape).toEqual(comp[i]!.shape);
          expectAllClose(fused[i]!.dataSync(), comp[i]!.dataSync(), { rtol: 1e-5, atol: 1e-5, label: what });
        });
        tf.dispose([...fused, ...comp]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([x, w, b, g]);
      });
    }
  }

  it('names the shapes it expected when they do not fit', () => {
    const x = tf.zeros([3, 4]) as tf.Tensor2D;
    const w = tf.zeros([5, 2]) as tf.Tensor2D;
    expect(() => dense(x, w)).toThrow(/expected x \[N,in\], w \[in,out\].*x \[3,4\], w \[5,2\]/);
    tf.dispose([x, w]);
  });
});
