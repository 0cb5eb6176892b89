import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '../testing/backends';
import { seededTensor } from '../testing/random';
import { addInto } from './add-into';

describeBackends('addInto', (backend) => {
  const inPlace = backend === 'wasm' || backend === 'cpu';

  it('writes acc + x into acc where it is the only holder, with the bits of tf.add, without leaks', () => {
    const x = seededTensor([37, 11], 2);
    const acc = tf.mul(seededTensor([37, 11], 1), 3);
    const expected = tf.add(acc, x);
    const before = tf.memory().numTensors;
    const sum = addInto(acc, x);
    expect(sum === acc).toBe(inPlace);
    if (sum !== acc) acc.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(sum.dataSync())).toEqual(Array.from(expected.dataSync()));
    tf.dispose([sum, x, expected]);
  });

  it('leaves a shared buffer, a variable and mismatched operands alone (a new tensor instead)', () => {
    const before = tf.memory().numTensors;
    const x = seededTensor([4, 6], 3);
    const acc = seededTensor([4, 6], 4);
    const alias = tf.reshape(acc, [24]);
    const accBefore = Array.from(acc.dataSync());
    const shared = addInto(acc, x);
    expect(shared).not.toBe(acc);
    expect(Array.from(alias.dataSync())).toEqual(accBefore);
    const init = seededTensor([4, 6], 5);
    const v = tf.variable(init);
    const vBefore = Array.from(v.dataSync());
    const fromVariable = addInto(v, x);
    expect(fromVariable).not.toBe(v);
    expect(Array.from(v.dataSync())).toEqual(vBefore);
    const row = tf.ones([1, 6]);
    const copy = tf.clone(acc);
    const broadcast = addInto(copy, row);
    expect(broadcast).not.toBe(copy);
    expect(broadcast.shape).toEqual([4, 6]);
    expect(Array.from(broadcast.dataSync())).toEqual(accBefore.map((a) => Math.fround(a + 1)));
    tf.dispose([x, acc, alias, shared, init, v, fromVariable, row, copy, broadcast]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
