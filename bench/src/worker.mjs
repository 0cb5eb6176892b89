// One benchmark figure on one backend, in its own process (so peak RSS is the figure's).
// Usage: node bench/src/worker.mjs <backend> <figure> '<json options>'  → one JSON line.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, setSimdKernelsEnabled } from '@rftkit/tensor';
import { rftOptions } from './rft-setup.mjs';

const [backend, figure, optionsJson] = process.argv.slice(2);
const opts = JSON.parse(optionsJson ?? '{}');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Median seconds of `reps` runs of `fn` after `warmup` runs. */
async function timeIt(fn, reps, warmup = 1) {
  for (let i = 0; i < warmup; i++) await fn();
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    ts.push((performance.now() - t) / 1000);
  }
  return median(ts);
}

// The kernel overrides keep the kernel they replaced under this symbol (see
// packages/core/src/kernels/override.ts); toggling them, and rftkit's SIMD kernels, gives
// the "stock kernels" figures (tfjs' own kernels; the fused ops then run as JavaScript).
const ORIGINAL = Symbol.for('rftkit.kernels.original');
const OVERRIDDEN = ['BatchMatMul', '_FusedMatMul', 'Cast', 'Identity', 'Pow', 'Sum'];
const stash = new Map();
function setOverrides(on) {
  if (backend !== 'wasm') return;
  setSimdKernelsEnabled(on);
  for (const name of OVERRIDDEN) {
    const current = tf.getKernel(name, backend);
    if (!current) continue;
    const isOverride = Boolean(current.kernelFunc[ORIGINAL]);
    if (!on && isOverride) {
      stash.set(name, current);
      tf.unregisterKernel(name, backend);
      tf.registerKernel(current.kernelFunc[ORIGINAL]);
    } else if (on && !isOverride && stash.has(name)) {
      tf.unregisterKernel(name, backend);
      tf.registerKernel(stash.get(name));
    }
  }
}
const variants = () => (backend === 'wasm' && !opts.noBefore ? ['before', 'after'] : ['after']);

const ALPHABET = '0123456789+-*/=() abcdefghijklmnopqrstuvwxyz';

async function policyFor(size) {
  const { createTransformerPolicy, createCharTokenizer } = await import('@rftkit/policy');
  const tokenizer = createCharTokenizer({ alphabet: ALPHABET });
  return createTransformerPolicy({ tokenizer, ...size, seed: 1 });
}

const figures = {
  async matmul() {
    const out = [];
    for (const c of opts.cases) {
      const a = tf.randomNormal(c.a);
      const b = tf.randomNormal(c.b);
      const row = { label: c.label, flops: c.flops };
      for (const v of variants()) {
        setOverrides(v === 'after');
        // Not tf.tidy(() => ….dataSync()): tidy scans a returned typed array element by element.
        const s = await timeIt(() => {
          const y = tf.matMul(a, b, c.ta, c.tb);
          y.dataSync();
          y.dispose();
        }, opts.reps);
        row[v] = c.flops / s / 1e9;
      }
      setOverrides(true);
      tf.dispose([a, b]);
      out.push(row);
    }
    return { unit: 'GFLOP/s', rows: out };
  },

  async train() {
    await import('@rftkit/tensor').then((m) => m.registerGradients());
    const policy = await policyFor(opts.size);
    const { batch, seqLen } = opts;
    const ids = new Int32Array(batch * seqLen).map((_, i) => 3 + ((i * 7) % 40));
    const tokens = tf.tensor2d(ids, [batch, seqLen], 'int32');
    const attentionMask = tf.ones([batch, seqLen]);
    const optimizer = tf.train.adam(1e-4);
    const step = () => {
      const loss = optimizer.minimize(
        () => {
          const s = policy.tokenStats({ tokens, attentionMask });
          const l = tf.neg(tf.mean(s.logp));
          tf.dispose([s.logp, s.entropy]);
          return l;
        },
        true,
        policy.trainableVariables(),
      );
      loss.dataSync();
      loss.dispose();
    };
    const row = { label: `train d${opts.size.dModel} L${opts.size.nLayers}`, samples: batch };
    for (const v of variants()) {
      setOverrides(v === 'after');
      row[v] = batch / (await timeIt(step, opts.reps));
    }
    setOverrides(true);
    return { unit: 'samples/s', rows: [row] };
  },

  async decode() {
    const policy = await policyFor(opts.size);
    const { prompts, samples, promptLen, newTokens } = opts;
    const B = prompts * samples;
    // `prompts` distinct prompts, each repeated for its `samples` rows (as a rollout's groups).
    const ids = new Int32Array(B * promptLen).map((_, i) => {
      const [p, j] = [Math.floor(i / promptLen / samples), i % promptLen];
      return j === 0 ? 1 : 3 + ((p * 7 + j * 5) % 40);
    });
    const tokens = tf.tensor2d(ids, [B, promptLen], 'int32');
    const attentionMask = tf.ones([B, promptLen]);
    const next = new Int32Array(B).fill(5);
    const rows = [];
    const prefill = { label: `prefill ${prompts}x${samples} len ${promptLen}` };
    const decode = { label: `decode ${prompts}x${samples} ${newTokens} tokens` };
    for (const v of variants()) {
      setOverrides(v === 'after');
      prefill[v] =
        (B * promptLen) /
        (await timeIt(() => {
          const { session, logits } = policy.startDecode({ tokens, attentionMask }, newTokens);
          logits.dataSync();
          logits.dispose();
          session.dispose();
        }, opts.reps));
      const times = [];
      for (let r = 0; r <= opts.reps; r++) {
        const { session, logits } = policy.startDecode({ tokens, attentionMask }, newTokens);
        logits.dispose();
        const t = performance.now();
        for (let i = 0; i < newTokens; i++) {
          const l = session.step(next);
          l.dataSync();
          l.dispose();
        }
        if (r > 0) times.push((performance.now() - t) / 1000);
        session.dispose();
      }
      decode[v] = (B * newTokens) / median(times);
    }
    setOverrides(true);
    rows.push(prefill, decode);
    // End to end through the rollout engine (sampling on the host included).
    const { createRolloutEngine } = await import('@rftkit/rollout');
    const engine = createRolloutEngine({ policy });
    const request = {
      prompts: Array.from({ length: prompts }, (_, i) => ({ id: `p${i}`, prompt: `${i}+${i * 3}=`.padEnd(promptLen - 1, ' ') })),
      samplesPerPrompt: samples,
      sampling: { temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: newTokens, stopTokens: [] },
      seed: 1,
      step: 0,
    };
    let generated = 0;
    const s = await timeIt(async () => {
      const batch = await engine.generate(request);
      generated = batch.responseMask ? batch.responseMask.reduce((x, y) => x + y, 0) : B * newTokens;
    }, opts.reps);
    rows.push({ label: `rollout engine ${prompts}x${samples}`, after: generated / s, note: `${generated} tokens` });
    return { unit: 'tokens/s', rows };
  },

  // A full trainer step (rollout + reward + advantage + regularizer + update) on the countdown
  // task, with the run configs' sizes (configs/grpo.yaml, configs/aepo.yaml).
  async rft() {
    const [{ createTrainer }, { createCountdownTask }, advantages, losses, regularizers, policyPkg, { createRolloutEngine }] =
      await Promise.all([
        import('@rftkit/trainer'),
        import('@rftkit/tasks'),
        import('@rftkit/advantages'),
        import('@rftkit/losses'),
        import('@rftkit/regularizers'),
        import('@rftkit/policy'),
        import('@rftkit/rollout'),
      ]);
    const task = createCountdownTask();
    // The shipped SFT base policy when present (short, often correct answers, so AEPO keeps
    // tempered rows as in a real run); otherwise a fresh policy of the same size.
    const { existsSync } = await import('node:fs');
    const base = new URL('../../checkpoints/countdown-base/', import.meta.url);
    let policy;
    let policySource;
    if (!opts.randomInit && existsSync(new URL('policy.json', base))) {
      try {
        policy = await policyPkg.loadPolicy(base.pathname);
        policySource = 'checkpoints/countdown-base';
      } catch (e) {
        policySource = `checkpoints/countdown-base unusable (${e.message.slice(0, 120)}); `;
      }
    }
    if (!policy) {
      const tokenizer = policyPkg.createCharTokenizer({ alphabet: task.alphabet() });
      policy = policyPkg.createTransformerPolicy({ tokenizer, ...opts.size, seed: 1 });
      policySource = `${policySource ?? ''}random init d${opts.size.dModel} L${opts.size.nLayers}`;
    }
    // Records the main rollouts' shape so the PyTorch reference can run the same sizes.
    const inner = createRolloutEngine({ policy });
    const shapes = [];
    const engine = {
      id: inner.id,
      policy: inner.policy,
      async generate(request) {
        const b = await inner.generate(request);
        if ((request.stream ?? 'main') === 'main') {
          let maxResp = 0;
          let respTokens = 0;
          for (let r = 0; r < b.rows; r++) {
            let n = 0;
            for (let t = 0; t < b.seqLen; t++) n += b.responseMask[r * b.seqLen + t];
            maxResp = Math.max(maxResp, n);
            respTokens += n;
          }
          shapes.push({ rows: b.rows, seqLen: b.seqLen, maxResponse: maxResp, responseTokens: respTokens });
        }
        return b;
      },
    };
    const rows = [];
    for (const algo of opts.algos) {
      const trainer = createTrainer({
        ...rftOptions({ task, advantages, losses, regularizers }, policy, algo, opts.trainer),
        engine,
      });
      const step = { label: `${algo.toUpperCase()} step (rollout+reward+advantage+update)` };
      const rollout = { label: `${algo.toUpperCase()} rollout phase ${opts.trainer.promptsPerStep}x${opts.trainer.samplesPerPrompt}` };
      const update = { label: `${algo.toUpperCase()} update phase (old logp + ${opts.trainer.miniBatchSamples}-row Adam steps)` };
      const other = { label: `${algo.toUpperCase()} reward+advantage+regularizer` };
      for (const v of variants()) {
        setOverrides(v === 'after');
        const ms = [];
        // Warm-up: V8 compiles wasm with its baseline tier first and optimises hot functions
        // over the first steps (the first two or three are up to 2x slower).
        for (let i = 0; i < 3; i++) await trainer.step();
        for (let i = 0; i < opts.reps; i++) ms.push(await trainer.step());
        const m = (k) => median(ms.map((x) => x[k]));
        step[v] = 1 / m('time/step_s');
        rollout[v] = 1 / m('time/rollout_s');
        update[v] = 1 / m('time/update_s');
        other[v] = 1 / median(ms.map((x) => x['time/step_s'] - x['time/rollout_s'] - x['time/update_s']));
        step[`${v}Rows`] = m('batch/rows');
      }
      setOverrides(true);
      trainer.dispose();
      rows.push(step, rollout, update, other);
    }
    policy.dispose();
    const shape = {
      rows: median(shapes.map((s) => s.rows)),
      seqLen: median(shapes.map((s) => s.seqLen)),
      maxResponse: median(shapes.map((s) => s.maxResponse)),
      responseTokens: median(shapes.map((s) => s.responseTokens)),
    };
    return { unit: 'steps/s', rows, policy: policySource, shape };
  },
};

await selectBackend(backend);
const t0 = performance.now();
const result = await figures[figure]();
result.wallSeconds = (performance.now() - t0) / 1000;
result.peakRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify(result)}\n`);
