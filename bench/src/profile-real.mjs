// Kernel profile of one training micro-batch at the real shape (bench/src/real-shape.mjs):
// `node bench/src/profile-real.mjs [wasm] '<json>'` with rows, seqLen, layers (default: the
// shape's), shape (smollm2-135m | qwen2.5-0.5b), lora (true: r=16), variant chunked|full|recompute.
// decode (true: prefill `rows`×`seqLen`, then profile `newTokens` KV-cached steps, default 16).
// PROFILE_HEAP=1 also logs every growth of the wasm heap in step 1, with the kernel that grew it. Prints the build, forward, and step times, then the kernels of
// the step by exclusive time (a kernel's time less the kernels it ran inside it).
import * as tf from '@tensorflow/tfjs-core';
import { registerGradients, selectBackend } from '@rftkit/tensor';
import { adamFor, LORA_R16, makePolicy, SHAPES, tokensOf, trainStep } from './real-shape.mjs';

const backend = process.argv[2] ?? 'wasm';
const o = { rows: 1, seqLen: 64, variant: 'chunked', ...JSON.parse(process.argv[3] ?? '{}') };
await selectBackend(backend);
registerGradients();

/** The wasm heap and what tensors hold, in MB. */
function heapMB() {
  const heap = tf.getBackend() === 'wasm' ? tf.backend().wasm.HEAPU8.length / 2 ** 20 : NaN;
  return `heap ${heap.toFixed(0)} MB, tensors ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MB`;
}

let lastHeap = 0;

/** Wraps the engine's kernel dispatch to sum each kernel's exclusive wall time. */
function kernelTimer() {
  const engine = tf.engine();
  const original = engine.runKernelFunc;
  const table = new Map();
  const stack = [];
  engine.runKernelFunc = function (info) {
    const name = info.kernelName ?? 'customGrad';
    const frame = { child: 0 };
    stack.push(frame);
    const t = performance.now();
    try {
      return original.call(this, info);
    } finally {
      const dt = performance.now() - t;
      stack.pop();
      if (stack.length) stack[stack.length - 1].child += dt;
      const shapes = Object.values(info.inputs ?? {}).map((x) => x?.shape?.join('x')).join(' ');
      const key = process.env.PROFILE_SHAPES === name ? `${name} ${shapes}` : name;
      const heapNow = tf.getBackend() === 'wasm' ? tf.backend().wasm.HEAPU8.length : 0;
      if (process.env.PROFILE_HEAP && heapNow > lastHeap) {
        console.error(`heap grew to ${(heapNow / 2 ** 20).toFixed(0)} MB in ${name} ${shapes}, tensors ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MB`);
        lastHeap = heapNow;
      }
      if (dt - frame.child > 500) console.error(`slow ${name} ${shapes} ${(dt - frame.child).toFixed(0)} ms, ${heapMB()}`);
      const e = table.get(key) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += dt - frame.child;
      table.set(key, e);
    }
  };
  return { table, stop: () => delete engine.runKernelFunc };
}

let t = performance.now();
const policy = await makePolicy({ layers: o.layers, shape: o.shape, recompute: o.variant === 'recompute', ...(o.lora ? { lora: LORA_R16 } : {}) });
console.log(`build ${((performance.now() - t) / 1000).toFixed(1)} s`);
const input = tokensOf(o.rows, o.seqLen, SHAPES[o.shape ?? 'smollm2-135m'].vocab_size);
if (o.decode) {
  profileDecode();
  process.exit(0);
}
t = performance.now();
tf.tidy(() => policy.tokenStats(input).logp.dataSync());
console.log(`forward (tokenStats, no tape) ${((performance.now() - t) / 1000).toFixed(2)} s`);
const optimizer = adamFor(policy);
const step = () => trainStep(policy, input, optimizer, o.variant === 'full');
console.log(`after forward: ${heapMB()}`);
const timer1 = process.env.PROFILE_HEAP ? kernelTimer() : null;
t = performance.now();
step();
timer1?.stop();
console.log(`step 1 ${((performance.now() - t) / 1000).toFixed(2)} s, ${heapMB()}`);
const timer = kernelTimer();
t = performance.now();
step();
const wall = performance.now() - t;
timer.stop();
const rows = [...timer.table.entries()].sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((a, [, e]) => a + e.ms, 0);
console.log(`step 2 ${(wall / 1000).toFixed(2)} s, kernel time ${(total / 1000).toFixed(2)} s`);
for (const [k, e] of rows.slice(0, 30)) console.log(`${e.ms.toFixed(1).padStart(9)} ms ${String(e.n).padStart(6)}  ${k}`);

/** Prefill, one warm-up step, then `newTokens` decode steps under the kernel timer. */
function profileDecode() {
  const n = o.newTokens ?? 16;
  const next = new Int32Array(o.rows).fill(5);
  let t0 = performance.now();
  const { session, logits } = policy.startDecode(input, n + 1);
  logits.dispose();
  console.log(`prefill ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  session.step(next).dispose();
  const timer = kernelTimer();
  t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const l = session.step(next);
    l.dataSync();
    l.dispose();
  }
  const wall = performance.now() - t0;
  timer.stop();
  session.dispose();
  const rows = [...timer.table.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((a, [, e]) => a + e.ms, 0);
  console.log(`${n} decode steps ${(wall / 1000).toFixed(2)} s (${((o.rows * n) / (wall / 1000)).toFixed(1)} tokens/s), kernel time ${(total / 1000).toFixed(2)} s`);
  for (const [k, e] of rows.slice(0, 30)) console.log(`${e.ms.toFixed(1).padStart(9)} ms ${String(e.n).padStart(6)}  ${k}`);
}
