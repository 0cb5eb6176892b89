// Kernel profile of one full GRPO trainer step (the `pnpm bench` RFT figure's setup):
// `node bench/src/profile-step.mjs [wasm] [grpo|aepo]`. Prints wall time, kernel count and
// the kernels that take the most time.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, wasmMatMulTuning } from '@rftkit/core';
import { createTrainer } from '@rftkit/trainer';
import { createCountdownTask } from '@rftkit/tasks';
import { createGrpoAdvantage } from '@rftkit/advantages';
import { createAggregator, createPpoClipLoss } from '@rftkit/losses';
import { createAepo } from '@rftkit/regularizers';
import { loadPolicy } from '@rftkit/policy';

const backend = process.argv[2] ?? 'wasm';
const algo = process.argv[3] ?? 'grpo';
await selectBackend(backend, { log: console.log });
// `RFTKIT_THREAD_MIN_MACS` overrides the size from which matmuls run on all wasm threads.
if (process.env.RFTKIT_THREAD_MIN_MACS) wasmMatMulTuning.threadMinMacs = Number(process.env.RFTKIT_THREAD_MIN_MACS);
const task = createCountdownTask();
const policy = await loadPolicy(new URL('../../checkpoints/countdown-base/', import.meta.url).pathname);
const trainer = createTrainer({
  policy,
  trainPrompts: task.generate('train', 256, 0),
  reward: task.reward(),
  advantage: createGrpoAdvantage(),
  loss: createPpoClipLoss({ clipLow: 0.2, clipHigh: 0.2, dualClip: 3 }),
  aggregator: createAggregator({ mode: 'token-mean' }),
  regularizers: algo === 'aepo' ? [createAepo({ targetEntropy: 0.5, temperatureLow: 0.8, temperatureHigh: 1.2 })] : [],
  config: {
    promptsPerStep: 8,
    samplesPerPrompt: 8,
    miniBatchSamples: 32,
    microBatchSamples: 32,
    epochs: 1,
    sampling: { temperature: 1, maxNewTokens: 16 },
    optimizer: { name: 'adamw', lr: 1e-4, weightDecay: 0, gradClip: 1 },
    steps: 1000,
    eval: { every: 0 },
  },
});
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
const by = new Map();
for (const k of info.kernels) {
  const e = by.get(k.name) ?? { n: 0, ms: 0 };
  e.n++;
  e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  by.set(k.name, e);
}
const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
console.log(`profiled step ${(metrics['time/step_s'] * 1000).toFixed(0)} ms, ${info.kernels.length} kernels, kernel time ${total.toFixed(1)} ms`);
for (const [name, e] of [...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
  console.log(`  ${name.padEnd(24)} ${String(e.n).padStart(6)}  ${e.ms.toFixed(1).padStart(7)} ms`);
}
trainer.dispose();
if (process.env.PROFILE_SHAPES) {
  const shapes = new Map();
  for (const k of info.kernels) {
    if (k.name !== process.env.PROFILE_SHAPES) continue;
    const key = JSON.stringify(k.inputShapes) + JSON.stringify(k.extraInfo ?? '');
    const e = shapes.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    shapes.set(key, e);
  }
  for (const [s, e] of [...shapes.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30)) {
    console.log(`  ${String(e.n).padStart(4)} ${e.ms.toFixed(2).padStart(7)} ms  ${s}`);
  }
}
