// Per-op timing of @rftkit/tensor's fused ops against their composite forms, forward and
// forward+backward, interleaved in one process: node bench/src/fused-ops.mjs [backend]
import * as tf from '@tensorflow/tfjs-core';
import {
  adamStep,
  adamStepComposite,
  gelu,
  geluComposite,
  layerNorm,
  layerNormComposite,
  selectBackend,
  sumOfSquares,
  sumOfSquaresComposite,
  tokenLogProbs,
  tokenLogProbsComposite,
} from '@rftkit/tensor';

const backend = process.argv[2] ?? 'wasm';
await selectBackend(backend);
const reps = Number(process.env.REPS ?? 30);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
function time(f) {
  f();
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    tf.tidy(() => {
      const r = f();
      (Array.isArray(r) ? r[0] : r).dataSync();
    });
    ts.push(performance.now() - t0);
  }
  return median(ts);
}
const rows = [];
for (const [r, d] of [[64, 64], [1792, 64]]) {
  const x = tf.randomNormal([r, d]);
  const g = tf.randomNormal([d]);
  const b = tf.randomNormal([d]);
  const ln = (f) => () => f(x, g, b);
  const lnG = (f) => () => tf.grads((a, c, e) => tf.sum(tf.square(f(a, c, e))))([x, g, b]);
  rows.push([`layerNorm [${r},${d}] fwd`, time(ln(layerNormComposite)), time(ln(layerNorm))]);
  rows.push([`layerNorm [${r},${d}] fwd+bwd`, time(lnG(layerNormComposite)), time(lnG(layerNorm))]);
  const h = tf.randomNormal([r, 4 * d]);
  rows.push([`gelu [${r},${4 * d}] fwd`, time(() => geluComposite(h)), time(() => gelu(h))]);
  rows.push([`gelu [${r},${4 * d}] fwd+bwd`, time(() => tf.grad((a) => tf.sum(tf.square(geluComposite(a))))(h)), time(() => tf.grad((a) => tf.sum(tf.square(gelu(a))))(h))]);
  tf.dispose([x, g, b, h]);
}
{
  const shapes = [[19 + 3, 64], [32, 64], ...Array.from({ length: 2 }, () => [[64], [64], [64, 64], [64], [64, 64], [64], [64, 64], [64], [64, 64], [64], [64], [64], [64, 256], [256], [256, 64], [64]]).flat(), [64], [64], [64, 22]];
  const vars = shapes.map((s) => [tf.randomNormal(s), tf.randomNormal(s), tf.zeros(s), tf.zeros(s)]);
  const o = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 3, weightDecay: 0.01, mode: 'adamw' };
  const all = (f) => () => vars.flatMap(([x, gr, m, v]) => f(x, gr, m, v, o));
  rows.push([`AdamW update, ${vars.length} variables (d=64 policy)`, time(all(adamStepComposite)), time(all(adamStep))]);
  const gs = vars.map((v) => v[1]);
  rows.push([`global grad norm², ${vars.length} variables`, time(() => sumOfSquaresComposite(gs)), time(() => sumOfSquares(gs))]);
  tf.dispose(vars.flat());
}
for (const rowsN of [64 * 27, 32 * 27]) {
  const logits = tf.randomNormal([rowsN, 22]);
  const targets = tf.tensor1d(Array.from({ length: rowsN }, (_, i) => (i * 7) % 22), 'int32');
  const fwd = (f) => () => f(logits, targets, 1).logp;
  const both = (f) => () =>
    tf.grad((l) => {
      const r = f(l, targets, 1);
      return tf.add(tf.sum(r.logp), tf.sum(r.entropy));
    })(logits);
  rows.push([`tokenLogProbs [${rowsN},22] fwd`, time(fwd(tokenLogProbsComposite)), time(fwd(tokenLogProbs))]);
  rows.push([`tokenLogProbs [${rowsN},22] fwd+bwd`, time(both(tokenLogProbsComposite)), time(both(tokenLogProbs))]);
  tf.dispose([logits, targets]);
}
console.log(`| op (${backend}) | composite ms | fused ms | speed-up |\n|---|---|---|---|`);
for (const [name, a, b] of rows) console.log(`| ${name} | ${a.toFixed(3)} | ${b.toFixed(3)} | ${(a / b).toFixed(2)}x |`);
