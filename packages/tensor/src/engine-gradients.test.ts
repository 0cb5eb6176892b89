import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { withTfjsBackward } from './engine-gradients';
import { describeBackends } from './testing/backends';
import { seededTensor } from './testing/random';

/** A stack of `layers` tanh(x·W + b) layers with a residual, ending in a weighted sum. */
function network(x: tf.Tensor2D, ws: tf.Variable[], bs: tf.Variable[], probe?: (t: tf.Tensor2D) => tf.Tensor2D): tf.Scalar {
  let h = probe ? probe(x) : x;
  for (let i = 0; i < ws.length; i++) h = tf.add(h, tf.tanh(tf.add(tf.matMul(h, ws[i]!), bs[i]!)));
  return tf.sum(tf.mul(h, h));
}

describeBackends('backward pass that frees as it goes', () => {
  const layers = 12;
  const make = () => ({
    x: tf.variable(seededTensor([16, 32], 1)) as tf.Variable<tf.Rank.R2>,
    ws: Array.from({ length: layers }, (_, i) => tf.variable(seededTensor([32, 32], 10 + i, 0.3))),
    bs: Array.from({ length: layers }, (_, i) => tf.variable(seededTensor([32], 40 + i, 0.1))),
  });

  it("gives tfjs' gradients bit for bit, frees activations before the pass ends, and leaks nothing", () => {
    const { x, ws, bs } = make();
    // An identity on the input whose gradient runs last: it sees what the pass still holds.
    const liveAtEnd: number[] = [];
    const probe = tf.customGrad((t) => ({
      value: tf.clone(t as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => {
        liveAtEnd.push(tf.memory().numBytes);
        return dy;
      },
    })) as (t: tf.Tensor2D) => tf.Tensor2D;
    const before = tf.memory().numTensors;
    const run = () => tf.variableGrads(() => network(x, ws, bs, probe), [x, ...ws, ...bs]);
    const ours = run();
    const theirs = withTfjsBackward(run);
    expect(Array.from(ours.value.dataSync())).toEqual(Array.from(theirs.value.dataSync()));
    for (const v of [x, ...ws, ...bs]) {
      expect(Array.from(ours.grads[v.name]!.dataSync())).toEqual(Array.from(theirs.grads[v.name]!.dataSync()));
    }
    // tfjs still holds every layer's saved inputs and intermediate gradients here; this pass
    // holds the weight gradients and little else.
    const weightBytes = [x, ...ws, ...bs].reduce((n, v) => n + v.size * 4, 0);
    expect(liveAtEnd).toHaveLength(2);
    const [oursLive, tfjsLive] = liveAtEnd as [number, number];
    expect(oursLive - weightBytes).toBeLessThan((tfjsLive - weightBytes) / 3);
    tf.dispose([ours.value, theirs.value, ...Object.values(ours.grads), ...Object.values(theirs.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...ws, ...bs]);
  });

  it('keeps a gradient that a gradient function hands to several inputs', () => {
    // f(a, b) = pass-through of a + b whose gradient returns the same dy for both.
    const both = tf.customGrad((a, b) => ({ value: tf.add(a as tf.Tensor, b as tf.Tensor), gradFunc: (dy: tf.Tensor) => [dy, dy] }));
    const x = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numTensors;
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(both(t, tf.mul(t, 2)) as tf.Tensor, t)))(x);
    // d/dx [(x + 2x)·x] with the custom gradient: dy = x for both inputs, then the product rule: x + 2x + (x + 2x) = 6x.
    expect(Array.from(g.dataSync())).toEqual([6, 12, 18]);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it("gives the gradient of an intermediate tensor asked for, and a caller's dy survives", () => {
    const x = tf.tensor1d([0.5, -1, 2]);
    const dy = tf.tensor1d([1, 2, 3]);
    const { value, grads } = tf.engine().gradients(() => tf.mul(tf.square(x), 3), [x], dy);
    expect(Array.from(grads[0]!.dataSync())).toEqual([3, -12, 36]);
    expect(dy.isDisposed).toBe(false);
    expect(Array.from(dy.dataSync())).toEqual([1, 2, 3]);
    tf.dispose([value, ...grads, x, dy]);
  });
});
