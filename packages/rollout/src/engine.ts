import {
  type FinishReason,
  OptionsError,
  type Policy,
  RftError,
  Rng,
  type RolloutBatch,
  type RolloutEngine,
  type RolloutRequest,
  type SamplingParams,
  ShapeError,
  deriveSeed,
  parseOptions,
} from '@rftkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { encodePrompt, type PromptFormat, leftPad, promptFormatSchema } from './prompt';
import { sampleToken, samplingSchema } from './sampling';

/** Which row a per-row sampling choice is made for. */
export interface RowInfo {
  /** Index of the prompt in the request. */
  prompt: number;
  /** Index of the sample within the prompt's group. */
  sample: number;
  /** The row's seed (`deriveSeed(seed, stream, step, promptIndexOffset + prompt, sample)`). */
  seed: number;
}

/** Sampling parameters chosen per row (mixture samplers draw a temperature per row). */
export type RowSampling = (row: RowInfo) => SamplingParams;

/** The engine of this package: a `RolloutEngine` that can also sample each row with its own parameters. */
export interface RowwiseRolloutEngine extends RolloutEngine {
  /** As `generate`, with `rowSampling` instead of `request.sampling` for every row. */
  generateRows(request: Omit<RolloutRequest, 'sampling'>, rowSampling: RowSampling): Promise<RolloutBatch>;
}

export interface RolloutEngineOptions {
  policy: Policy;
  /** Default `kv-cache`. */
  id?: string;
  /** How prompts become token ids: the policy's chat template (when it has one) and a system prompt. */
  promptFormat?: PromptFormat;
}

export function isRowwiseEngine(engine: RolloutEngine): engine is RowwiseRolloutEngine {
  return typeof (engine as Partial<RowwiseRolloutEngine>).generateRows === 'function';
}

function validateRequest(request: Omit<RolloutRequest, 'sampling'>): void {
  const issues: { path: string; message: string }[] = [];
  if (!Array.isArray(request.prompts)) issues.push({ path: 'prompts', message: 'must be an array of prompt records' });
  const n = request.samplesPerPrompt;
  if (!Number.isInteger(n) || n < 1) issues.push({ path: 'samplesPerPrompt', message: `must be an integer ≥ 1, got ${n}` });
  if (!Number.isInteger(request.seed)) issues.push({ path: 'seed', message: `must be an integer, got ${request.seed}` });
  if (!Number.isInteger(request.step) || request.step < 0) {
    issues.push({ path: 'step', message: `must be an integer ≥ 0, got ${request.step}` });
  }
  const offset = request.groupIdOffset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) {
    issues.push({ path: 'groupIdOffset', message: `must be an integer ≥ 0, got ${offset}` });
  }
  const promptOffset = request.promptIndexOffset ?? 0;
  if (!Number.isInteger(promptOffset) || promptOffset < 0) {
    issues.push({ path: 'promptIndexOffset', message: `must be an integer ≥ 0, got ${promptOffset}` });
  }
  if (issues.length) throw new OptionsError('rollout', issues);
}

function emptyBatch(request: Omit<RolloutRequest, 'sampling'>): RolloutBatch {
  return {
    rows: 0,
    seqLen: 0,
    tokens: new Int32Array(0),
    attentionMask: new Float32Array(0),
    responseMask: new Float32Array(0),
    behaviourLogp: new Float32Array(0),
    logpT1: new Float32Array(0),
    groupIds: new Int32Array(0),
    promptIndex: new Int32Array(0),
    prompts: [...request.prompts],
    responses: [],
    sampling: [],
    finishReason: [],
    source: [],
    seeds: new Uint32Array(0),
  };
}

/**
 * The rollout engine over a policy: `samplesPerPrompt` rows per prompt (row `p·n + s`),
 * left-padded prompts, one batched KV-cached decode loop with host-side sampling (one
 * `dataSync` of `[rows, vocab]` logits per token). Each row draws from its own RNG seeded
 * by `deriveSeed(seed, stream, step, promptIndexOffset + p, s)`, so a row never depends on
 * what else is in the batch (and a request split into chunks samples what the whole would).
 */
export function createRolloutEngine(options: RolloutEngineOptions): RowwiseRolloutEngine {
  const { policy } = options;
  if (!policy || typeof policy.startDecode !== 'function') {
    throw new OptionsError('rollout', [{ path: 'policy', message: 'must be a Policy (with startDecode)' }]);
  }
  const tokenizer = policy.tokenizer;
  const V = tokenizer.vocabSize;
  const promptFormat = parseOptions('rollout.promptFormat', promptFormatSchema, options.promptFormat);

  async function generateRows(
    request: Omit<RolloutRequest, 'sampling'>,
    rowSampling: RowSampling,
  ): Promise<RolloutBatch> {
    validateRequest(request);
    const P = request.prompts.length;
    const n = request.samplesPerPrompt;
    const B = P * n;
    if (B === 0) return emptyBatch(request);
    const stream = request.stream ?? 'main';
    const source = request.source ?? stream;
    const offset = request.groupIdOffset ?? 0;
    const promptOffset = request.promptIndexOffset ?? 0;

    const encoded = request.prompts.map((record, p) => {
      try {
        return encodePrompt(tokenizer, record, promptFormat);
      } catch (cause) {
        throw new RftError('E_DATASET', `prompt ${p} ('${record.id}') cannot be encoded: ${(cause as Error).message}`, {
          cause,
        });
      }
    });
    const promptLen = encoded.reduce((m, ids) => Math.max(m, ids.length), 0);
    const room = policy.maxSeqLen - promptLen;
    if (room < 1) {
      const longest = request.prompts[encoded.findIndex((ids) => ids.length === promptLen)]!;
      throw new ShapeError(
        'rollout',
        `prompt '${longest.id}' is ${promptLen} tokens (bos or chat template included); the policy's maxSeqLen ${policy.maxSeqLen} leaves no room for a response`,
      );
    }

    const seeds = new Uint32Array(B);
    const params: SamplingParams[] = new Array(B);
    const rngs: Rng[] = new Array(B);
    const stopSets: Set<number>[] = new Array(B);
    const rowMax = new Int32Array(B);
    const cache = new Map<SamplingParams, { parsed: SamplingParams; stops: Set<number> }>();
    for (let p = 0; p < P; p++) {
      for (let s = 0; s < n; s++) {
        const r = p * n + s;
        const seed = deriveSeed(request.seed, stream, request.step, promptOffset + p, s);
        seeds[r] = seed;
        rngs[r] = new Rng(seed);
        const raw = rowSampling({ prompt: p, sample: s, seed });
        let entry = cache.get(raw);
        if (!entry) {
          const parsed = parseOptions('rollout', samplingSchema, raw) as SamplingParams;
          const bad = parsed.stopTokens.findIndex((t) => t >= V);
          if (bad >= 0) {
            throw new OptionsError('rollout', [
              { path: `sampling.stopTokens[${bad}]`, message: `token id must be < vocab size ${V}` },
            ]);
          }
          entry = { parsed, stops: new Set([tokenizer.eosId, ...(tokenizer.stopTokenIds ?? []), ...parsed.stopTokens]) };
          cache.set(raw, entry);
        }
        params[r] = entry.parsed;
        stopSets[r] = entry.stops;
        rowMax[r] = Math.min(entry.parsed.maxNewTokens, room);
      }
    }
    const maxNew = rowMax.reduce((m, x) => Math.max(m, x), 0);

    const rowsPrompts = Array.from({ length: B }, (_, r) => encoded[Math.floor(r / n)]!);
    const padded = leftPad(rowsPrompts, tokenizer.padId);
    const outTokens = new Int32Array(B * maxNew);
    const outLogp = new Float32Array(B * maxNew);
    const outLogpT1 = new Float32Array(B * maxNew);
    const lengths = new Int32Array(B);
    const finish: FinishReason[] = new Array(B).fill('length');
    const active = new Uint8Array(B).fill(1);
    let remaining = B;
    const scratch = new Float64Array(V);
    const next = new Int32Array(B).fill(tokenizer.padId);

    // Not inside tf.tidy: the session keeps its KV cache alive between calls.
    const inputTokens = tf.tensor2d(padded.tokens, [B, padded.length], 'int32');
    const inputMask = tf.tensor2d(padded.attentionMask, [B, padded.length], 'float32');
    let start: ReturnType<Policy['startDecode']>;
    try {
      start = policy.startDecode({ tokens: inputTokens, attentionMask: inputMask }, maxNew);
    } finally {
      inputTokens.dispose();
      inputMask.dispose();
    }
    const session = start.session;
    let logits: tf.Tensor2D | undefined = start.logits;
    // The rows the session still decodes, in its order. A session that can drop rows
    // (DecodeSession.retain) drops finished ones once they are an eighth of its rows;
    // every row has its own generator, so what a row samples does not depend on the others.
    let live = Array.from({ length: B }, (_, r) => r);
    try {
      for (let t = 0; remaining > 0; t++) {
        const current = logits!;
        logits = undefined;
        if (current.shape[0] !== live.length || current.shape[1] !== V) {
          current.dispose();
          throw new ShapeError('rollout', `policy returned logits [${current.shape}], expected [${live.length}, ${V}]`);
        }
        const host = current.dataSync() as Float32Array;
        current.dispose();
        for (let i = 0; i < live.length; i++) {
          const r = live[i]!;
          if (!active[r]) {
            next[r] = tokenizer.padId;
            continue;
          }
          const drawn = sampleToken(host.subarray(i * V, (i + 1) * V), params[r]!, rngs[r]!, scratch);
          const at = r * maxNew + t;
          outTokens[at] = drawn.token;
          outLogp[at] = drawn.logp;
          outLogpT1[at] = drawn.logpT1;
          lengths[r] = t + 1;
          next[r] = drawn.token;
          if (stopSets[r]!.has(drawn.token)) finish[r] = 'stop';
          if (finish[r] === 'stop' || t + 1 >= rowMax[r]!) {
            // A finished row is fed padding; its logits are ignored from now on.
            active[r] = 0;
            next[r] = tokenizer.padId;
            remaining--;
          }
        }
        if (remaining === 0) break;
        const keep = live.flatMap((r, i) => (active[r] ? [i] : []));
        if (session.retain && live.length - keep.length >= Math.max(1, live.length >> 3)) {
          session.retain(keep);
          live = keep.map((i) => live[i]!);
        }
        logits = session.step(Int32Array.from(live, (r) => next[r]!));
      }
    } finally {
      logits?.dispose();
      session.dispose();
    }

    const respLen = lengths.reduce((m, x) => Math.max(m, x), 0);
    const L = padded.length;
    const T = L + respLen;
    const tokens = new Int32Array(B * T).fill(tokenizer.padId);
    const attentionMask = new Float32Array(B * T);
    const responseMask = new Float32Array(B * T);
    const behaviourLogp = new Float32Array(B * T);
    const logpT1 = new Float32Array(B * T);
    const responses: string[] = new Array(B);
    for (let r = 0; r < B; r++) {
      const base = r * T;
      const len = lengths[r]!;
      const resp = outTokens.subarray(r * maxNew, r * maxNew + len);
      tokens.set(padded.tokens.subarray(r * L, (r + 1) * L), base);
      attentionMask.set(padded.attentionMask.subarray(r * L, (r + 1) * L), base);
      tokens.set(resp, base + L);
      attentionMask.fill(1, base + L, base + L + len);
      responseMask.fill(1, base + L, base + L + len);
      behaviourLogp.set(outLogp.subarray(r * maxNew, r * maxNew + len), base + L);
      logpT1.set(outLogpT1.subarray(r * maxNew, r * maxNew + len), base + L);
      // The reward reads the text without the token that ended it.
      responses[r] = tokenizer.decode(finish[r] === 'stop' ? resp.subarray(0, len - 1) : resp);
    }
    return {
      rows: B,
      seqLen: T,
      tokens,
      attentionMask,
      responseMask,
      behaviourLogp,
      logpT1,
      groupIds: Int32Array.from({ length: B }, (_, r) => offset + Math.floor(r / n)),
      promptIndex: Int32Array.from({ length: B }, (_, r) => Math.floor(r / n)),
      prompts: [...request.prompts],
      responses,
      sampling: params,
      finishReason: finish,
      source: new Array(B).fill(source),
      seeds,
    };
  }

  return {
    id: options.id ?? 'kv-cache',
    policy,
    generate(request: RolloutRequest) {
      const sampling = request.sampling;
      return generateRows(request, () => sampling);
    },
    generateRows,
  };
}
