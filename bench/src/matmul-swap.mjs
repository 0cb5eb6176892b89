// a·bᵀ at the real shape's sizes with and without wasmMatMulTuning.swapTransposedB, on the
// XNNPACK path and its threads: `node bench/src/matmul-swap.mjs` → ms per product, median of 5.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, wasmMatMulTuning } from '@rftkit/tensor';

await selectBackend('wasm');
const cases = [
  [63, 576, 49152],
  [341, 576, 49152],
  [64, 576, 1536],
  [64, 576, 576],
  [64, 1536, 576],
  [256, 576, 1536],
  [16, 576, 49152],
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [m, k, n] of cases) {
  const a = tf.randomNormal([m, k]);
  const b = tf.randomNormal([n, k]);
  const row = [];
  let ref;
  for (const swap of [false, true]) {
    wasmMatMulTuning.swapTransposedB = swap;
    const ts = [];
    for (let r = 0; r < 6; r++) {
      const t = performance.now();
      const y = tf.matMul(a, b, false, true);
      const v = y.dataSync();
      ts.push(performance.now() - t);
      if (r === 0 && !swap) ref = Float32Array.from(v);
      if (r === 0 && swap) {
        let diff = 0;
        for (let i = 0; i < v.length; i++) diff = Math.max(diff, Math.abs(v[i] - ref[i]));
        row.push(`max |diff| ${diff.toExponential(1)}`);
      }
      y.dispose();
    }
    row.unshift(`${swap ? 'swapped' : 'plain'} ${median(ts.slice(1)).toFixed(2)} ms`);
  }
  console.log(`[${m},${k}]·[${n},${k}]ᵀ (${((m * k * n) / 1e6).toFixed(1)}M MAC): ${row.join(', ')}`);
  tf.dispose([a, b]);
}
