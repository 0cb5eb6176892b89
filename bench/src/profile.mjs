// Kernel profile of the RFT step's pieces on one backend: `node bench/src/profile.mjs [wasm]`.
// Prints, per piece, wall ms, kernel count and the kernels that take the most time.
import * as tf from '@tensorflow/tfjs-core';
import { registerGradients, selectBackend } from '@rftkit/tensor';
import { createCharTokenizer, createTransformerPolicy } from '@rftkit/policy';
import { printKernelTable } from './rft-setup.mjs';

const backend = process.argv[2] ?? 'wasm';
await selectBackend(backend);
registerGradients?.();
const tokenizer = createCharTokenizer({ alphabet: '0123456789 >:+-*/()' });
const policy = createTransformerPolicy({ tokenizer, dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 32, seed: 1 });

async function prof(label, fn, reps = 5) {
  fn();
  const t = performance.now();
  for (let i = 0; i < reps; i++) fn();
  const wall = (performance.now() - t) / reps;
  const info = await tf.profile(fn);
  const lines = [];
  const total = printKernelTable(info, 12, (l) => lines.push(l));
  console.log(`\n${label}: wall ${wall.toFixed(2)} ms, ${info.kernels.length} kernels, kernel time ${total.toFixed(2)} ms`);
  for (const l of lines) console.log(l);
}

const B = 64;
const L = 12;
const T = 28;
const ids = new Int32Array(B * L).map((_, i) => (i % L === 0 ? 1 : 3 + ((i * 5) % 19)));
const tokens = tf.tensor2d(ids, [B, L], 'int32');
const mask = tf.ones([B, L]);
const { session, logits } = policy.startDecode({ tokens, attentionMask: mask }, 16);
logits.dispose();
const next = new Int32Array(B).fill(5);
let steps = 0;
await prof('decode step B=64 (one token)', () => {
  if (steps++ >= 15) return;
  const l = session.step(next);
  l.dataSync();
  l.dispose();
}, 5);
session.dispose();

const tids = new Int32Array(B * T).map((_, i) => 3 + ((i * 7) % 19));
const ttok = tf.tensor2d(tids, [B, T], 'int32');
const tmask = tf.ones([B, T]);
await prof('tokenStats forward 64x28 (old logp)', () => {
  const s = policy.tokenStats({ tokens: ttok, attentionMask: tmask });
  s.logp.dataSync();
  tf.dispose([s.logp, s.entropy]);
});
const t32 = tf.slice(ttok, [0, 0], [32, T]);
const m32 = tf.slice(tmask, [0, 0], [32, T]);
const opt = tf.train.adam(1e-4);
await prof('fwd+bwd+adam 32x28', () => {
  const loss = opt.minimize(() => {
    const s = policy.tokenStats({ tokens: t32, attentionMask: m32 });
    const l = tf.neg(tf.mean(s.logp));
    tf.dispose([s.logp, s.entropy]);
    return l;
  }, true, policy.trainableVariables());
  loss.dataSync();
  loss.dispose();
});
