// Test fixtures: a bigram language model (next-token logits = W[previous token]) and a
// host-side sampler for it. Both implement the core specs exactly, small enough that
// gradients and updates can be computed by hand.
import * as tf from '@tensorflow/tfjs-core';
import {
  entropyFromLogits,
  gatherLogProbs,
  type DecodeSession,
  type ForwardInput,
  type Policy,
  type PromptRecord,
  type RolloutBatch,
  type RolloutEngine,
  type RolloutRequest,
  Rng,
  deriveSeed,
  type Tokenizer,
  type TokenStats,
} from '@rftkit/core';

let counter = 0;

export class BigramPolicy implements Policy {
  readonly id = 'bigram';
  readonly tokenizer: Tokenizer;
  readonly maxSeqLen = 256;
  readonly w: tf.Variable;

  constructor(tokenizer: Tokenizer, init: Float32Array | number = 0, trainable = true) {
    this.tokenizer = tokenizer;
    const V = tokenizer.vocabSize;
    const values =
      typeof init === 'number'
        ? (() => {
            const rng = new Rng(init);
            return Float32Array.from({ length: V * V }, () => (init === 0 ? 0 : 0.5 * rng.normal()));
          })()
        : init;
    this.w = tf.tidy(() => tf.variable(tf.tensor2d(values, [V, V]), trainable, `bigram_w_${counter++}`));
  }

  forward(input: ForwardInput): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = input.tokens.shape;
      const V = this.tokenizer.vocabSize;
      const oh = tf.oneHot(tf.reshape(tf.cast(input.tokens, 'int32'), [B * T]), V);
      return tf.reshape(tf.matMul(oh, this.w), [B, T, V]) as tf.Tensor3D;
    });
  }

  tokenStats(input: ForwardInput, options: { temperature?: number } = {}): TokenStats {
    const temperature = options.temperature ?? 1;
    return tf.tidy(() => {
      const [B, T] = input.tokens.shape;
      const V = this.tokenizer.vocabSize;
      const logits = this.forward(input);
      const prev = tf.slice(logits, [0, 0, 0], [B, T - 1, V]);
      const next = tf.slice(input.tokens, [0, 1], [B, T - 1]);
      const logp = tf.pad(gatherLogProbs(prev, next, temperature), [
        [0, 0],
        [1, 0],
      ]) as tf.Tensor2D;
      const entropy = tf.pad(entropyFromLogits(prev, temperature), [
        [0, 0],
        [1, 0],
      ]) as tf.Tensor2D;
      return { logp, entropy };
    });
  }

  startDecode(input: ForwardInput): { session: DecodeSession; logits: tf.Tensor2D } {
    const [B, T] = input.tokens.shape;
    const rowsOf = (ids: tf.Tensor1D) => tf.tidy(() => tf.gather(this.w, tf.cast(ids, 'int32')) as tf.Tensor2D);
    const last = tf.tidy(() => tf.reshape(tf.slice(input.tokens, [0, T - 1], [B, 1]), [B]) as tf.Tensor1D);
    const logits = rowsOf(last);
    last.dispose();
    return {
      logits,
      session: {
        batch: B,
        step: (tokens) => tf.tidy(() => rowsOf(tf.tensor1d(tokens, 'int32'))),
        dispose() {},
      },
    };
  }

  trainableVariables(): tf.Variable[] {
    return this.w.trainable ? [this.w] : [];
  }

  clone(options: { trainable?: boolean } = {}): Policy {
    return new BigramPolicy(this.tokenizer, this.values(), options.trainable ?? true);
  }

  values(): Float32Array {
    return Float32Array.from(this.w.dataSync() as Float32Array);
  }

  getWeights(): Record<string, { shape: number[]; values: Float32Array }> {
    return { w: { shape: [...this.w.shape], values: this.values() } };
  }

  setWeights(weights: Record<string, { shape: number[]; values: Float32Array }>): void {
    const w = weights.w;
    if (!w) throw new Error('missing weight w');
    tf.tidy(() => this.w.assign(tf.tensor2d(w.values, this.w.shape as [number, number])));
  }

  config(): Record<string, unknown> {
    return { type: 'bigram' };
  }

  dispose(): void {
    this.w.dispose();
  }
}

function logSoftmaxHost(logits: ArrayLike<number>, temperature: number): Float64Array {
  const z = Float64Array.from(logits, (x) => x / temperature);
  const max = Math.max(...z);
  let s = 0;
  for (const x of z) s += Math.exp(x - max);
  const lse = max + Math.log(s);
  return z.map((x) => x - lse);
}

/** Temperature-only sampler over a `BigramPolicy`; row seeds from (seed, stream, step, prompt, sample). */
export class BigramEngine implements RolloutEngine {
  readonly id = 'bigram-engine';
  constructor(readonly policy: BigramPolicy) {}

  async generate(request: RolloutRequest): Promise<RolloutBatch> {
    const tok = this.policy.tokenizer;
    const V = tok.vocabSize;
    const W = this.policy.values();
    const stream = request.stream ?? 'main';
    const { sampling } = request;
    const rowsOut: Array<{ prompt: number[]; response: number[]; lp: number[]; lp1: number[]; p: number; seed: number; stop: boolean }> = [];
    request.prompts.forEach((prompt: PromptRecord, p) => {
      const ids = [tok.bosId, ...tok.encode(prompt.prompt)];
      for (let s = 0; s < request.samplesPerPrompt; s++) {
        const seed = deriveSeed(request.seed, stream, request.step, (request.promptIndexOffset ?? 0) + p, s);
        const rng = new Rng(seed);
        const response: number[] = [];
        const lp: number[] = [];
        const lp1: number[] = [];
        let prev = ids[ids.length - 1]!;
        let stop = false;
        while (response.length < sampling.maxNewTokens) {
          const row = W.subarray(prev * V, (prev + 1) * V);
          const logp = logSoftmaxHost(row, sampling.temperature);
          let u = rng.float();
          let next = V - 1;
          for (let v = 0; v < V; v++) {
            u -= Math.exp(logp[v]!);
            if (u < 0) {
              next = v;
              break;
            }
          }
          response.push(next);
          lp.push(logp[next]!);
          lp1.push(logSoftmaxHost(row, 1)[next]!);
          prev = next;
          if (next === tok.eosId || sampling.stopTokens.includes(next)) {
            stop = true;
            break;
          }
        }
        rowsOut.push({ prompt: ids, response, lp, lp1, p, seed, stop });
      }
    });
    const P = Math.max(...rowsOut.map((r) => r.prompt.length));
    const seqLen = P + Math.max(...rowsOut.map((r) => r.response.length));
    const rows = rowsOut.length;
    const tokens = new Int32Array(rows * seqLen);
    const attentionMask = new Float32Array(rows * seqLen);
    const responseMask = new Float32Array(rows * seqLen);
    const behaviourLogp = new Float32Array(rows * seqLen);
    const logpT1 = new Float32Array(rows * seqLen);
    rowsOut.forEach((r, i) => {
      const start = P - r.prompt.length;
      r.prompt.forEach((t, j) => {
        tokens[i * seqLen + start + j] = t;
        attentionMask[i * seqLen + start + j] = 1;
      });
      r.response.forEach((t, j) => {
        const k = i * seqLen + P + j;
        tokens[k] = t;
        attentionMask[k] = 1;
        responseMask[k] = 1;
        behaviourLogp[k] = r.lp[j]!;
        logpT1[k] = r.lp1[j]!;
      });
    });
    const offset = request.groupIdOffset ?? 0;
    return {
      rows,
      seqLen,
      tokens,
      attentionMask,
      responseMask,
      behaviourLogp,
      logpT1,
      groupIds: Int32Array.from(rowsOut, (r) => r.p + offset),
      promptIndex: Int32Array.from(rowsOut, (r) => r.p),
      prompts: request.prompts,
      responses: rowsOut.map((r) => tok.decode(r.response)),
      sampling: rowsOut.map(() => ({ ...sampling })),
      finishReason: rowsOut.map((r) => (r.stop ? 'stop' : 'length')),
      source: rowsOut.map(() => request.source ?? stream),
      seeds: Uint32Array.from(rowsOut, (r) => r.seed),
    };
  }
}
