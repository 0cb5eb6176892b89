// The RFT step every benchmark measures: the run configs' sizes (configs/grpo.yaml,
// configs/aepo.yaml) on the countdown task.

/** Trainer config of the benchmarked step (steps and evaluation added by `rftComponents`). */
export const RFT_TRAINER = {
  promptsPerStep: 8,
  samplesPerPrompt: 8,
  miniBatchSamples: 32,
  microBatchSamples: 32,
  epochs: 1,
  sampling: { temperature: 1, maxNewTokens: 16 },
  optimizer: { name: 'adamw', lr: 1e-4, weightDecay: 0, gradClip: 1 },
};

/**
 * `createTrainer` options for GRPO or AEPO on countdown, given the packages to build them
 * from (so A/B runs can pass two builds) and the policy.
 */
export function rftOptions({ task, advantages, losses, regularizers }, policy, algo, trainer = RFT_TRAINER) {
  return {
    policy,
    trainPrompts: task.generate('train', 256, 0),
    reward: task.reward(),
    advantage: advantages.createGrpoAdvantage(),
    loss: losses.createPpoClipLoss({ clipLow: 0.2, clipHigh: 0.2, dualClip: 3 }),
    aggregator: losses.createAggregator({ mode: 'token-mean' }),
    regularizers:
      algo === 'aepo' ? [regularizers.createAepo({ targetEntropy: 0.5, temperatureLow: 0.8, temperatureHigh: 1.2 })] : [],
    config: { ...trainer, steps: 1000, eval: { every: 0 } },
  };
}

/** Prints the kernels of a `tf.profile` result by total time: name, launches, ms. */
export function printKernelTable(info, top = 12, print = console.log) {
  const by = new Map();
  for (const k of info.kernels) {
    const e = by.get(k.name) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
  for (const [name, e] of [...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    print(`  ${name.padEnd(24)} ${String(e.n).padStart(6)}  ${e.ms.toFixed(2).padStart(7)} ms`);
  }
  return total;
}
