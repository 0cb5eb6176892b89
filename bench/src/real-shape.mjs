// Real-shape figures: a random model of SmolLM2-135M's shape (llama, d 576, 30 layers, 9/3
// heads, d_ff 1536, vocab 49152, tied) as an rftkit HF policy, in its own process.
// Usage: node bench/src/real-shape.mjs <backend> <figure> '<json options>' → one JSON line.
//   memory     one training micro-batch (forward, backward, Adam) of `rows`×`seqLen` tokens,
//              `variant` full (whole [rows, T, vocab] logits, autodiff) | chunked | recompute,
//              `lora` (r=16), `shape` smollm2-135m | qwen2.5-0.5b: peak RSS and wasm heap
//   grpo       one GRPO step (rollout, scoring, update), see below
//   throughput prefill and decode tokens/s at `batch` rows, training tokens/s (full fine-tune)
import * as tf from '@tensorflow/tfjs-core';
import { parseHfConfig } from '@rftkit/hf';
import { createHfPolicy } from '@rftkit/policy';
import { addInto, registerGradients, selectBackend, tokenLogProbs } from '@rftkit/tensor';
import { Rng } from '@rftkit/core';
import { defaultSampling, sampleToken } from '@rftkit/rollout';
import { AdamOptimizer } from '@rftkit/trainer';

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

/** Qwen2.5-0.5B's shape (qwen2: q/k/v biases, 14/2 heads, vocab 151936, tied), for memory. */
export const QWEN25_05B = {
  model_type: 'qwen2',
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 151643,
  eos_token_id: 151643,
};

export const SHAPES = { 'smollm2-135m': SMOLLM2_135M, 'qwen2.5-0.5b': QWEN25_05B };

/**
 * Seeded uniform weights of std 0.02 (norm gains 1), as transformers' initializer_range,
 * made when the policy reads each one (seeded by its name): only one weight's JavaScript
 * array exists at a time, as when loading a safetensors file tensor by tensor, so peak RSS
 * is the backend's and not a second copy of the model.
 */
function randomWeights(arch) {
  const shapes = new Map(arch.params.map((p) => [p.name, p.shape]));
  const make = (name) => {
    const shape = shapes.get(name);
    const n = shape.reduce((x, y) => x * y, 1);
    const values = new Float32Array(n);
    if (name.endsWith('norm.weight')) return { shape, values: values.fill(1) };
    let s = 2166136261;
    for (let i = 0; i < name.length; i++) s = Math.imul(s ^ name.charCodeAt(i), 16777619) >>> 0;
    const a = 0.02 * Math.sqrt(3);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      values[i] = (s / 4294967296 - 0.5) * 2 * a;
    }
    return { shape, values };
  };
  return new Proxy({}, { get: (_, name) => (typeof name === 'string' && shapes.has(name) ? make(name) : undefined), has: (_, name) => shapes.has(name) });
}

/** PEFT LoRA r=16 on every linear layer of the blocks (q/k/v/o/gate/up/down), alpha 32. */
export const LORA_R16 = { rank: 16, alpha: 32, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], rslora: false, seed: 0, baseModel: 'smollm2-135m-shape' };

/**
 * The policy; `layers` overrides the depth (profiling a few blocks of the same width);
 * `lora`: LoRA settings (only the adapters train).
 */
export async function makePolicy({ layers, lora, shape = 'smollm2-135m', ...options } = {}) {
  const { archFor, createHfLoraPolicy } = await import('@rftkit/policy');
  const base = SHAPES[shape];
  if (!base) throw new Error(`shape: '${shape}' is not one of ${Object.keys(SHAPES).join(', ')}`);
  const raw = layers ? { ...base, num_hidden_layers: layers } : base;
  const config = parseHfConfig(raw, `${shape}-shape`);
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
  const meta = { rawConfig: raw, generationConfig: null, sourceFolder: null };
  const policy = lora ? createHfLoraPolicy({ config, weights, tokenizer, meta, settings: lora, ...options }) : createHfPolicy({ config, weights, tokenizer, meta, ...options });
  log(`policy built ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return policy;
}

const log = (msg) => process.stderr.write(`[real-shape] ${msg}${heapNote()}\n`);
/** `; wasm heap N MB` on wasm, where the heap's 4 GB limit bounds what a step can hold. */
const heapNote = () => (tf.getBackend() === 'wasm' ? `; wasm heap ${(tf.backend().wasm.HEAPU8.length / 2 ** 20).toFixed(0)} MB` : '');

export function tokensOf(rows, seqLen, vocab) {
  const ids = new Int32Array(rows * seqLen).map((_, i) => 1 + ((i * 7919 + 13) % (vocab - 1)));
  return { tokens: tf.tensor2d(ids, [rows, seqLen], 'int32'), attentionMask: tf.ones([rows, seqLen]) };
}

/**
 * The trainer's optimizer (@rftkit/trainer's AdamOptimizer: one fused kernel per variable)
 * as torch.optim.Adam's defaults, over the policy's trainable variables.
 */
export function adamFor(policy) {
  return new AdamOptimizer(policy.trainableVariables(), { name: 'adam', lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 0, schedule: 'constant', warmupSteps: 0 });
}

/** One training micro-batch: −mean log p of the tokens, gradients of every weight, one Adam step. */
export function trainStep(policy, input, optimizer, full) {
  const { value, grads } = tf.variableGrads(
    () =>
      tf.tidy(() => {
        if (full) {
          const [B, T] = input.tokens.shape;
          const logits = tf.slice(policy.forward(input), [0, 0, 0], [B, T - 1, -1]);
          return tf.neg(tf.mean(tokenLogProbs(logits, tf.slice(input.tokens, [0, 1], [B, T - 1])).logp));
        }
        return tf.neg(tf.mean(policy.tokenStats(input).logp));
      }),
    optimizer.variables,
  );
  optimizer.apply(optimizer.variables.map((v) => grads[v.name] ?? null), 1e-5);
  tf.dispose(Object.values(grads));
  value.dataSync();
  value.dispose();
}

/**
 * What the step allocates: on wasm the heap's growth over it (the heap never shrinks, so its
 * size after the step is the peak of what was allocated, fragmentation included). tf.memory()'s
 * numBytes is no measure of it: it counts every tensor object, so each reshape or tape-saved
 * clone of a weight counts the weight again.
 */
function wasmHeapMB() {
  return tf.getBackend() === 'wasm' ? tf.backend().wasm.HEAPU8.length / 2 ** 20 : null;
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
    const shape = o.shape ?? 'smollm2-135m';
    const policy = await makePolicy({ shape, recompute: variant === 'recompute', ...(o.lora ? { lora: LORA_R16 } : {}), ...(o.headChunkTokens ? { headChunkTokens: o.headChunkTokens } : {}) });
    const input = tokensOf(o.rows, o.seqLen, SHAPES[shape].vocab_size);
    const optimizer = adamFor(policy);
    const params = policy.trainableVariables().reduce((a, v) => a + v.size, 0);
    const heapBefore = wasmHeapMB();
    const t = performance.now();
    trainStep(policy, input, optimizer, variant === 'full');
    const seconds = (performance.now() - t) / 1000;
    return {
      figure: 'memory',
      shape,
      variant: o.lora ? `LoRA r=16, ${variant}` : variant,
      rows: o.rows,
      seqLen: o.seqLen,
      params,
      headChunkTokens: policy.config().headChunkTokens,
      // Weights plus Adam's two moments of the trainable ones, as held before the step.
      heldMB: tf.memory().numBytes / 2 ** 20,
      wasmHeapBeforeMB: heapBefore,
      wasmHeapPeakMB: wasmHeapMB(),
      stepSeconds: seconds,
    };
  },

  async throughput(o) {
    registerGradients();
    let policy = await makePolicy();
    const V = SMOLLM2_135M.vocab_size;
    const out = { figure: 'throughput', rows: [] };
    for (const batch of o.batches) {
      // Prefill: `batch` prompts of `promptLen` tokens through the KV-cache start.
      const prompt = tokensOf(batch, o.promptLen, V);
      const prefill = await timeIt(() => {
        const { session, logits } = policy.startDecode(prompt, o.newTokens);
        logits.dataSync();
        logits.dispose();
        session.dispose();
      }, o.reps);
      const pTok = batch * o.promptLen;
      out.rows.push({ label: `prefill ${batch}x${o.promptLen}`, after: pTok / prefill.median, range: [pTok / prefill.max, pTok / prefill.min] });
      // Decode: `newTokens` KV-cached steps of one token per row (logits of the full vocab).
      const next = new Int32Array(batch).fill(5);
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
      const dTok = batch * o.newTokens;
      out.rows.push({ label: `decode ${batch} rows x ${o.newTokens} tokens`, after: dTok / median(steps), range: [dTok / Math.max(...steps), dTok / Math.min(...steps)] });
      tf.dispose([prompt.tokens, prompt.attentionMask]);
    }
    // Training: chunked LM head (the policy's default), Adam; one warm-up step. Full fine-tune,
    // then LoRA r=16 (a new policy: only the adapters train and sit in the optimizer).
    const input = tokensOf(o.trainRows, o.trainSeqLen, V);
    const tTok = o.trainRows * o.trainSeqLen;
    for (const kind of ['full fine-tune', 'LoRA r=16']) {
      if (kind !== 'full fine-tune') {
        policy.dispose();
        policy = await makePolicy({ lora: LORA_R16 });
      }
      const optimizer = adamFor(policy);
      trainStep(policy, input, optimizer, false);
      const train = await timeIt(() => trainStep(policy, input, optimizer, false), o.trainReps);
      out.rows.push({ label: `train ${o.trainRows}x${o.trainSeqLen} (${kind}, Adam)`, after: tTok / train.median, range: [tTok / train.max, tTok / train.min] });
      optimizer.dispose();
    }
    return out;
  },

  /**
   * One GRPO step of full fine-tuning: `prompts`×`group` rows sample `newTokens` tokens each
   * (KV cache, temperature 1, the full vocabulary), the behaviour log-probs are scored without
   * a tape, then the clipped-ratio loss with group-normalised advantages of seeded random
   * rewards is differentiated in micro-batches of `microRows` rows and Adam steps once. The
   * second of two steps is reported.
   */
  async grpo(o) {
    registerGradients();
    const policy = await makePolicy();
    const V = SMOLLM2_135M.vocab_size;
    const B = o.prompts * o.group;
    const L = o.promptLen;
    const N = o.newTokens;
    const ids = tokensOf(o.prompts, L, V);
    const prompt = { tokens: tf.tidy(() => tf.reshape(tf.tile(tf.expandDims(ids.tokens, 1), [1, o.group, 1]), [B, L])), attentionMask: tf.ones([B, L]) };
    tf.dispose([ids.tokens, ids.attentionMask]);
    const optimizer = adamFor(policy);
    // rftkit's sampler at its defaults (T = 1, no truncation), as the rollout engine draws.
    const rng = new Rng(7);
    const scratch = new Float64Array(V);
    const step = () => {
      const t0 = performance.now();
      // Rollout.
      const completions = new Int32Array(B * N);
      const { session, logits: first } = policy.startDecode(prompt, N);
      let logits = first;
      for (let s = 0; s < N; s++) {
        const rows = logits.dataSync();
        logits.dispose();
        const next = new Int32Array(B);
        for (let r = 0; r < B; r++) {
          const v = sampleToken(rows.subarray(r * V, (r + 1) * V), defaultSampling, rng, scratch).token;
          next[r] = v;
          completions[r * N + s] = v;
        }
        if (s < N - 1) logits = session.step(next);
      }
      session.dispose();
      const rolloutSeconds = (performance.now() - t0) / 1000;
      log(`grpo: rollout of ${B} × ${N} tokens ${rolloutSeconds.toFixed(1)} s`);
      // Rewards and group-normalised advantages.
      const rewards = Array.from({ length: B }, () => (rng.float() < 0.5 ? 1 : 0));
      const adv = new Float32Array(B);
      for (let p = 0; p < o.prompts; p++) {
        const g = rewards.slice(p * o.group, (p + 1) * o.group);
        const mean = g.reduce((a, b) => a + b, 0) / g.length;
        const sd = Math.sqrt(g.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, g.length - 1));
        g.forEach((x, i) => {
          adv[p * o.group + i] = (x - mean) / (sd + 1e-6);
        });
      }
      const t1 = performance.now();
      const full = tf.tidy(() => tf.concat([prompt.tokens, tf.tensor2d(completions, [B, N], 'int32')], 1));
      const mask = tf.ones([B, L + N]);
      const lossMask = tf.tidy(() => tf.concat([tf.zeros([B, L]), tf.ones([B, N])], 1));
      const micro = [];
      for (let r = 0; r < B; r += o.microRows) {
        const n = Math.min(o.microRows, B - r);
        const input = { tokens: tf.slice(full, [r, 0], [n, -1]), attentionMask: tf.slice(mask, [r, 0], [n, -1]) };
        const old = tf.tidy(() => policy.tokenStats(input).logp);
        micro.push({ input, old, adv: tf.tensor2d(adv.slice(r, r + n), [n, 1]), lm: tf.slice(lossMask, [r, 0], [n, -1]) });
      }
      const t2 = performance.now();
      log(`grpo: scored in ${((t2 - t1) / 1000).toFixed(1)} s; update of ${micro.length} micro-batches...`);
      let acc = null;
      const tokens = B * N;
      for (const [i, m] of micro.entries()) {
        if (i > 0 && (i & (i - 1)) === 0) log(`grpo: ${i} of ${micro.length} micro-batches in ${((performance.now() - t2) / 1000).toFixed(1)} s`);
        const { value, grads } = tf.variableGrads(
          () =>
            tf.tidy(() => {
              const ratio = tf.exp(tf.sub(policy.tokenStats(m.input).logp, m.old));
              const clipped = tf.clipByValue(ratio, 0.8, 1.28);
              const obj = tf.minimum(tf.mul(ratio, m.adv), tf.mul(clipped, m.adv));
              return tf.div(tf.neg(tf.sum(tf.mul(obj, m.lm))), tokens);
            }),
          optimizer.variables,
        );
        value.dispose();
        if (!acc) acc = grads;
        else
          for (const k of Object.keys(grads)) {
            // As the trainer accumulates: in place where the backend allows.
            const sum = addInto(acc[k], grads[k]);
            if (sum !== acc[k]) acc[k].dispose();
            grads[k].dispose();
            acc[k] = sum;
          }
      }
      optimizer.apply(optimizer.variables.map((v) => acc[v.name] ?? null), 1e-6);
      tf.dispose(Object.values(acc));
      optimizer.variables[0].dataSync();
      const t3 = performance.now();
      log(`grpo: update ${((t3 - t2) / 1000).toFixed(1)} s`);
      for (const m of micro) tf.dispose([m.input.tokens, m.input.attentionMask, m.old, m.adv, m.lm]);
      tf.dispose([full, mask, lossMask]);
      return { t0, t1, t2, t3, rolloutSeconds };
    };
    // A warm-up step (first pass of every kernel, Adam's state), then the measured one; at
    // full size (`warmup: false`) first-pass costs are a negligible share of one step.
    if (o.warmup ?? true) step();
    const { t0, t1, t2, t3, rolloutSeconds } = step();
    tf.dispose([prompt.tokens, prompt.attentionMask]);
    return {
      figure: 'grpo',
      prompts: o.prompts,
      group: o.group,
      promptLen: L,
      newTokens: N,
      microRows: o.microRows,
      rolloutSeconds,
      scoreSeconds: (t2 - t1) / 1000,
      updateSeconds: (t3 - t2) / 1000,
      stepSeconds: (t3 - t0) / 1000,
    };
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
