// Kernel profile of one full trainer step (the `pnpm bench` RFT figure's setup):
// `node bench/src/profile-step.mjs [wasm] [grpo|aepo]`. Prints the step/rollout/update times
// of `PROFILE_STEPS` steps (default 5, after 3 warm-up steps), then the kernels of one more
// step by time; `PROFILE_SHAPES=<kernel>` adds that kernel's time per input shape.
// `RFTKIT_THREAD_MIN_MACS` overrides the size from which matmuls run on all wasm threads.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, wasmMatMulTuning } from '@rftkit/tensor';
import * as advantages from '@rftkit/advantages';
import * as losses from '@rftkit/losses';
import { loadPolicy } from '@rftkit/policy';
import * as regularizers from '@rftkit/regularizers';
import { createCountdownTask } from '@rftkit/tasks';
import { createTrainer } from '@rftkit/trainer';
import { printKernelTable, rftOptions } from './rft-setup.mjs';

const backend = process.argv[2] ?? 'wasm';
const algo = process.argv[3] ?? 'grpo';
await selectBackend(backend, { log: console.log });
if (process.env.RFTKIT_THREAD_MIN_MACS) wasmMatMulTuning.threadMinMacs = Number(process.env.RFTKIT_THREAD_MIN_MACS);
const policy = await loadPolicy(new URL('../../checkpoints/countdown-base/', import.meta.url).pathname);
const trainer = createTrainer(rftOptions({ task: createCountdownTask(), advantages, losses, regularizers }, policy, algo));
for (let i = 0; i < 3; i++) await trainer.step();
const walls = [];
for (let i = 0; i < Number(process.env.PROFILE_STEPS ?? 5); i++) {
  const m = await trainer.step();
  walls.push([m['time/step_s'], m['time/rollout_s'], m['time/update_s']].map((s) => (s * 1000).toFixed(0)).join('/'));
}
console.log(`step/rollout/update ms: ${walls.join('  ')}`);
let metrics;
const info = await tf.profile(async () => {
  metrics = await trainer.step();
});
const lines = [];
const total = printKernelTable(info, 25, (l) => lines.push(l));
console.log(`profiled step ${(metrics['time/step_s'] * 1000).toFixed(0)} ms, ${info.kernels.length} kernels, kernel time ${total.toFixed(1)} ms`);
for (const l of lines) console.log(l);
if (process.env.PROFILE_SHAPES) {
  const shapes = new Map();
  for (const k of info.kernels) {
    if (k.name !== process.env.PROFILE_SHAPES) continue;
    const key = JSON.stringify(k.inputShapes);
    const e = shapes.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    shapes.set(key, e);
  }
  for (const [s, e] of [...shapes.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30)) {
    console.log(`  ${String(e.n).padStart(4)} ${e.ms.toFixed(2).padStart(7)} ms  ${s}`);
  }
}
trainer.dispose();
