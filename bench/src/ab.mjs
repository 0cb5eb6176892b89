// Side-by-side timing of two builds of @rftkit/policy (and @rftkit/rollout) in one process,
// runs interleaved so machine load hits both alike. Used to measure one optimisation at a time:
//   node bench/src/ab.mjs <backend> <dirA> <dirB> [figures]
// where each dir holds policy/index.js (and optionally rollout/index.js, trainer/index.js) built with tsup, e.g.
// the committed version copied to bench/node_modules/.baseline and the working tree's build.
// Prints one JSON line: per figure, median seconds for A and B and the speed-up A/B.
import * as tf from '@tensorflow/tfjs-core';
import { registerGradients, selectBackend } from '@rftkit/tensor';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { rftOptions } from './rft-setup.mjs';

const [backend = 'wasm', dirA, dirB, which = 'decode,engine,stats,train,grpo,aepo'] = process.argv.slice(2);
const reps = Number(process.env.AB_REPS ?? 7);
await selectBackend(backend);
registerGradients();
async function load(dir) {
  const policy = await import(pathToFileURL(resolve(dir, 'policy/index.js')).href);
  const r = resolve(dir, 'rollout/index.js');
  const rollout = existsSync(r) ? await import(pathToFileURL(r).href) : await import('@rftkit/rollout');
  const t = resolve(dir, 'trainer/index.js');
  const trainer = existsSync(t) ? await import(pathToFileURL(t).href) : await import('@rftkit/trainer');
  return { policy, rollout, trainer };
}
const variants = { A: await load(dirA), B: await load(dirB) };
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** fns: {A: () => seconds|void, B: ...}; interleaved A,B,B,A,… after one warm-up each. */
async function ab(fns) {
  const t = { A: [], B: [] };
  for (const k of ['A', 'B']) await fns[k]();
  for (let i = 0; i < reps; i++) {
    for (const k of i % 2 ? ['B', 'A'] : ['A', 'B']) {
      const t0 = performance.now();
      const r = await fns[k]();
      t[k].push(typeof r === 'number' ? r : (performance.now() - t0) / 1000);
    }
  }
  return { A: median(t.A), B: median(t.B), speedup: median(t.A) / median(t.B) };
}
const ALPHABET = '0123456789 >:+-*/()';
const SIZE = { dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 32, seed: 1 };
const pol = (v) => v.policy.createTransformerPolicy({ tokenizer: v.policy.createCharTokenizer({ alphabet: ALPHABET }), ...SIZE });
const out = {};
const B = 64;
const L = 12;
const N = 16;
const T = 28;
const want = new Set(which.split(','));

if (want.has('decode')) {
  const ps = { A: pol(variants.A), B: pol(variants.B) };
  const ids = new Int32Array(B * L).map((_, i) => (i % L === 0 ? 1 : 3 + ((i * 5) % 19)));
  const tokens = tf.tensor2d(ids, [B, L], 'int32');
  const mask = tf.ones([B, L]);
  const next = new Int32Array(B).fill(5);
  const run = (p) => () => {
    const { session, logits } = p.startDecode({ tokens, attentionMask: mask }, N);
    logits.dataSync();
    logits.dispose();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const l = session.step(next);
      l.dataSync();
      l.dispose();
    }
    session.dispose();
    return (performance.now() - t0) / 1000;
  };
  const r = await ab({ A: run(ps.A), B: run(ps.B) });
  out.decode = { ...r, unit: `s per ${N} decode steps of ${B} rows` };
  if (want.has('engine')) {
    const engines = { A: variants.A.rollout.createRolloutEngine({ policy: ps.A }), B: variants.B.rollout.createRolloutEngine({ policy: ps.B }) };
    const request = {
      prompts: Array.from({ length: 8 }, (_, i) => ({ id: `p${i}`, prompt: `${i} ${i * 3} ${i + 7}>` })),
      samplesPerPrompt: 8,
      sampling: { temperature: 1, topK: 0, topP: 1, minP: 0, maxNewTokens: N, stopTokens: [] },
      seed: 1,
      step: 0,
    };
    out.engine = { ...(await ab({ A: () => engines.A.generate(request).then(() => {}), B: () => engines.B.generate(request).then(() => {}) })), unit: 's per 8x8 rollout' };
  }
  tf.dispose([tokens, mask]);
  ps.A.dispose();
  ps.B.dispose();
}
if (want.has('stats') || want.has('train')) {
  const ps = { A: pol(variants.A), B: pol(variants.B) };
  const tids = new Int32Array(B * T).map((_, i) => 3 + ((i * 7) % 19));
  const tok = tf.tensor2d(tids, [B, T], 'int32');
  const m = tf.ones([B, T]);
  if (want.has('stats')) {
    const run = (p) => () => {
      const s = p.tokenStats({ tokens: tok, attentionMask: m });
      s.logp.dataSync();
      tf.dispose([s.logp, s.entropy]);
    };
    out.stats = { ...(await ab({ A: run(ps.A), B: run(ps.B) })), unit: `s per tokenStats ${B}x${T}` };
  }
  if (want.has('train')) {
    const t32 = tf.slice(tok, [0, 0], [32, T]);
    const m32 = tf.slice(m, [0, 0], [32, T]);
    const opts = { A: tf.train.adam(1e-4), B: tf.train.adam(1e-4) };
    const run = (k) => () => {
      const loss = opts[k].minimize(
        () => {
          const s = ps[k].tokenStats({ tokens: t32, attentionMask: m32 });
          const l = tf.sub(tf.neg(tf.mean(s.logp)), tf.mul(0.01, tf.mean(s.entropy)));
          tf.dispose([s.logp, s.entropy]);
          return l;
        },
        true,
        ps[k].trainableVariables(),
      );
      loss.dataSync();
      loss.dispose();
    };
    out.train = { ...(await ab({ A: run('A'), B: run('B') })), unit: 's per fwd+bwd+Adam 32x28' };
  }
  ps.A.dispose();
  ps.B.dispose();
}
for (const algo of ['grpo', 'aepo']) {
  if (!want.has(algo)) continue;
  const [{ createCountdownTask }, advantages, losses, regularizers] = await Promise.all([
    import('@rftkit/tasks'),
    import('@rftkit/advantages'),
    import('@rftkit/losses'),
    import('@rftkit/regularizers'),
  ]);
  const task = createCountdownTask();
  const trainers = {};
  for (const k of ['A', 'B']) {
    const v = variants[k];
    const policy = v.policy.createTransformerPolicy({ tokenizer: v.policy.createCharTokenizer({ alphabet: task.alphabet() }), ...SIZE });
    trainers[k] = v.trainer.createTrainer({
      ...rftOptions({ task, advantages, losses, regularizers }, policy, algo),
      engine: v.rollout.createRolloutEngine({ policy }),
    });
  }
  const phases = { A: [], B: [] };
  const r = await ab(
    Object.fromEntries(
      ['A', 'B'].map((k) => [
        k,
        async () => {
          const mt = await trainers[k].step();
          phases[k].push(mt);
          return mt['time/step_s'];
        },
      ]),
    ),
  );
  const ph = (k, name) => median(phases[k].slice(1).map((x) => x[name]));
  out[algo] = {
    ...r,
    unit: 's per trainer step',
    rollout: { A: ph('A', 'time/rollout_s'), B: ph('B', 'time/rollout_s') },
    update: { A: ph('A', 'time/update_s'), B: ph('B', 'time/update_s') },
  };
}
console.log(JSON.stringify(out));
