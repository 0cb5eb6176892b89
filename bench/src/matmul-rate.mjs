// GFLOP/s of the wasm matmul routes at the real shape's products: rftkit's SIMD matmul on
// one thread, rftkit's SIMD matmul as routed (threads where enabled), the same with every
// product on the packed kernel, and XNNPACK on its threads. `node bench/src/matmul-rate.mjs` → median of 7 per product.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, setSimdKernelsEnabled, wasmMatMulTuning } from '@rftkit/tensor';

const { threadMinMacs, packMinRows } = wasmMatMulTuning;

await selectBackend('wasm');
// [m, k, n, transposeA, transposeB]: a training step's forward, dx and dW products.
const cases = [
  [64, 576, 1536, false, true],
  // decode: the LM head and a kv projection at 64 rows
  [64, 576, 49152, false, true],
  [64, 576, 192, false, true],
  [64, 1536, 576, false, true],
  [64, 576, 576, false, true],
  [64, 1536, 576, false, false],
  [64, 576, 1536, false, false],
  [576, 64, 1536, true, false],
  [1536, 64, 576, true, false],
  [256, 576, 1536, false, true],
  [63, 49152, 576, false, false],
  [1024, 576, 1536, false, true],
  [1024, 1536, 576, false, true],
  [1024, 576, 576, false, false],
  // dW of a 2 × 160-token micro-batch: dyᵀ·x over 320 tokens
  [1536, 320, 576, true, false],
  [576, 320, 576, true, false],
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const routes = {
  'simd threads': () => {
    setSimdKernelsEnabled(true);
    Object.assign(wasmMatMulTuning, { simdThreads: true, threadMinMacs, packMinRows });
  },
  'simd threads, always packed': () => {
    setSimdKernelsEnabled(true);
    Object.assign(wasmMatMulTuning, { simdThreads: true, threadMinMacs, packMinRows: 1 });
  },
  'simd 1 thread': () => {
    setSimdKernelsEnabled(true);
    Object.assign(wasmMatMulTuning, { simdThreads: false, threadMinMacs: Infinity, packMinRows });
  },
  'xnnpack threads': () => {
    setSimdKernelsEnabled(false);
    Object.assign(wasmMatMulTuning, { simdThreads: false, threadMinMacs: 0 });
  },
};
// Let the SIMD workers start before the first product.
tf.tidy(() => tf.matMul(tf.ones([8, 8]), tf.ones([8, 8])).dataSync());
await new Promise((r) => setTimeout(r, 200));
// `MATMUL_CASES='[[m,k,n,tA,tB],...]'` measures those products instead.
for (const [m, k, n, tA, tB] of process.env.MATMUL_CASES ? JSON.parse(process.env.MATMUL_CASES) : cases) {
  const a = tf.randomNormal(tA ? [k, m] : [m, k]);
  const b = tf.randomNormal(tB ? [n, k] : [k, n]);
  const cells = [];
  for (const [name, set] of Object.entries(routes)) {
    set();
    const ts = [];
    for (let r = 0; r < 8; r++) {
      const t = performance.now();
      const y = tf.matMul(a, b, tA, tB);
      y.dataSync();
      ts.push(performance.now() - t);
      y.dispose();
    }
    const ms = median(ts.slice(1));
    cells.push(`${name} ${((2 * m * k * n) / ms / 1e6).toFixed(1)} GFLOP/s (${ms.toFixed(2)} ms)`);
  }
  console.log(`${m}x${k}·${k}x${n}${tA ? ' Aᵀ' : ''}${tB ? ' Bᵀ' : ''}: ${cells.join(', ')}`);
  tf.dispose([a, b]);
}
