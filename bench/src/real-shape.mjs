// Real-shape figures: a random model of SmolLM2-135M's shape (llama, d 576, 30 layers, 9/3
// heads, d_ff 1536, vocab 49152, tied) as an rftkit HF policy, in its own process.
// Usage: node bench/src/real-shape.mjs <backend> <figure> '<json options>' → one JSON line.
//   memory     one training micro-batch (forward, backward, Adam) of `rows`×`seqLen` tokens,
//              `variant` full (whole [rows, T, vocab] logits, autodiff) | chunked | recompute
//   throughput prefill and decode tokens/s at `batch` rows, training tokens/s (full fine-tune)
import * as tf from '@tensorflow/tfjs-core';
import { parseHfConfig } from '@rftkit/hf';
import { createHfPolicy } from '@rftkit/policy';
import { registerGradients, selectBackend, tokenLogProbs } from '@rftkit/tensor';

export const SMOLLM2_135M = {
  model_type: 'llama',
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  head_dim: 64,
  vocab_size: 49152,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 0,
  eos_token_id: 0,
};

/** Seeded uniform weights of std 0.02 (norm gains 1), as transformers' initializer_range. */
function randomWeights(arch) {
  let s = 12345;
  const a = 0.02 * Math.sqrt(3);
  const weights = {};
  for (const p of arch.params) {
    const n = p.shape.reduce((x, y) => x * y, 1);
    const values = new Float32Array(n);
    if (p.name.endsWith('norm.weight')) values.fill(1);
    else
      for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        values[i] = (s / 4294967296 - 0.5) * 2 * a;
      }
    weights[p.name] = { shape: p.shape, values };
  }
  return weights;
}

async function makePolicy(options = {}) {
  const { archFor } = await import('@rftkit/policy');
  const config = parseHfConfig(SMOLLM2_135M, 'smollm2-135m-shape');
  const tokenizer = {
    id: 'ids',
    vocabSize: config.vocabSize,
    padId: 0,
    bosId: 0,
    eosId: 0,
    encode: () => {
      throw new Error('ids only');
    },
    decode: () => {
      throw new Error('ids only');
    },
    toJSON: () => ({ type: 'ids' }),
  };
  let t = performance.now();
  const weights = randomWeights(archFor(config));
  log(`random weights ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const policy = createHfPolicy({ config, weights, tokenizer, meta: { rawConfig: SMOLLM2_135M, generationConfig: null, sourceFolder: null }, ...options });
  log(`policy built ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return policy;
}

const log = (msg) => process.stderr.write(`[real-shape] ${msg}\n`);

function tokensOf(rows, seqLen, vocab) {
  const ids = new Int32Array(rows * seqLen).map((_, i) => 1 + ((i * 7919 + 13) % (vocab - 1)));
  return { tokens: tf.tensor2d(ids, [rows, seqLen], 'int32'), attentionMask: tf.ones([rows, seqLen]) };
}

/** One training micro-batch: −mean log p of the tokens, gradients of every weight, one Adam step. */
function trainStep(policy, input, optimizer, full) {
  const loss = optimizer.minimize(
    () =>
      tf.tidy(() => {
        if (full) {
          const [B, T] = input.tokens.shape;
          const logits = tf.slice(policy.forward(input), [0, 0, 0], [B, T - 1, -1]);
          return tf.neg(tf.mean(tokenLogProbs(logits, tf.slice(input.tokens, [0, 1], [B, T - 1])).logp));
        }
        return tf.neg(tf.mean(policy.tokenStats(input).logp));
      }),
    true,
    policy.trainableVariables(),
  );
  loss.dataSync();
  loss.dispose();
}

/**
 * The peak of tf.memory().numBytes while `fn` runs, read after every kernel (tf.profile does
 * the same but reads every kernel's output back, which is far too slow at this size).
 */
function trackPeakBytes(fn) {
  const engine = tf.engine();
  const own = Object.hasOwn(engine, 'runKernelFunc');
  const original = engine.runKernelFunc;
  let peak = tf.memory().numBytes;
  engine.runKernelFunc = function (...args) {
    const out = original.apply(this, args);
    peak = Math.max(peak, tf.memory().numBytes);
    return out;
  };
  try {
    fn();
  } finally {
    if (own) engine.runKernelFunc = original;
    else delete engine.runKernelFunc;
  }
  return peak;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeIt(fn, reps) {
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    ts.push((performance.now() - t) / 1000);
  }
  return { median: median(ts), min: Math.min(...ts), max: Math.max(...ts) };
}

const figures = {
  async memory(o) {
    registerGradients();
    const variant = o.variant;
    const policy = await makePolicy({ recompute: variant === 'recompute', ...(o.headChunkTokens ? { headChunkTokens: o.headChunkTokens } : {}) });
    const input = tokensOf(o.rows, o.seqLen, SMOLLM2_135M.vocab_size);
    const optimizer = tf.train.adam(1e-5);
    const params = policy.trainableVariables().reduce((a, v) => a + v.size, 0);
    const before = tf.memory().numBytes;
    const t = performance.now();
    const peakBytes = trackPeakBytes(() => trainStep(policy, input, optimizer, variant === 'full'));
    const seconds = (performance.now() - t) / 1000;
    return {
      figure: 'memory',
      variant,
      rows: o.rows,
      seqLen: o.seqLen,
      params,
      headChunkTokens: policy.config().headChunkTokens,
      weightsMB: before / 2 ** 20,
      tfPeakMB: peakBytes / 2 ** 20,
      tfPeakOverWeightsMB: (peakBytes - before) / 2 ** 20,
      stepSeconds: seconds,
    };
  },

  async throughput(o) {
    registerGradients();
    const policy = await makePolicy();
    const V = SMOLLM2_135M.vocab_size;
    const out = { figure: 'throughput', rows: [] };
    // Prefill: `batch` prompts of `promptLen` tokens through the KV-cache start.
    const prompt = tokensOf(o.batch, o.promptLen, V);
    const prefill = await timeIt(() => {
      const { session, logits } = policy.startDecode(prompt, o.newTokens);
      logits.dataSync();
      logits.dispose();
      session.dispose();
    }, o.reps);
    out.rows.push({ label: `prefill ${o.batch}x${o.promptLen}`, after: (o.batch * o.promptLen) / prefill.median, range: [(o.batch * o.promptLen) / prefill.max, (o.batch * o.promptLen) / prefill.min] });
    // Decode: `newTokens` KV-cached steps of one token per row (logits of the full vocab).
    const next = new Int32Array(o.batch).fill(5);
    const steps = [];
    // Run 0 is a warm-up.
    for (let r = 0; r <= o.reps; r++) {
      const { session, logits } = policy.startDecode(prompt, o.newTokens);
      logits.dispose();
      const t = performance.now();
      for (let i = 0; i < o.newTokens; i++) {
        const l = session.step(next);
        l.dataSync();
        l.dispose();
      }
      if (r > 0) steps.push((performance.now() - t) / 1000);
      session.dispose();
    }
    const dTok = o.batch * o.newTokens;
    out.rows.push({ label: `decode ${o.batch} rows x ${o.newTokens} tokens`, after: dTok / median(steps), range: [dTok / Math.max(...steps), dTok / Math.min(...steps)] });
    tf.dispose([prompt.tokens, prompt.attentionMask]);
    // Training: full fine-tune, chunked LM head (the policy's default), Adam; one warm-up step.
    const input = tokensOf(o.trainRows, o.trainSeqLen, V);
    const optimizer = tf.train.adam(1e-5);
    trainStep(policy, input, optimizer, false);
    const train = await timeIt(() => trainStep(policy, input, optimizer, false), o.trainReps);
    const tTok = o.trainRows * o.trainSeqLen;
    out.rows.push({ label: `train ${o.trainRows}x${o.trainSeqLen} (full fine-tune, Adam)`, after: tTok / train.median, range: [tTok / train.max, tTok / train.min] });
    return out;
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const [backend, figure, optionsJson] = process.argv.slice(2);
  await selectBackend(backend);
  const t0 = performance.now();
  const result = await figures[figure](JSON.parse(optionsJson ?? '{}'));
  result.backend = tf.getBackend();
  result.wallSeconds = (performance.now() - t0) / 1000;
  result.peakRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
