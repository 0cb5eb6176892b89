// LoRA on HF policies against peft: adapters peft made and saved (random non-zero A and B,
// __fixtures__/hf/lora/generate.py) give peft's logits here; the rest are invariants (step 0 =
// base, base frozen under training, merged export = adapter forward, checkpoints, no leaks).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, ConfigError, OptionsError, ShapeError } from '@rftkit/core';
import { describeBackends } from '@rftkit/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy, savePolicy } from '../checkpoint';
import { exportHfPolicy, type HfPolicy, loadHfPolicy } from './index';
import type { LoraOptions } from './lora-options';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, readPeftAdapter } from './lora-peft';
import { type HfLoraPolicy, isHfLoraPolicy } from './lora-policy';

const HF = join(import.meta.dirname, '..', '__fixtures__', 'hf');
const LORA = join(HF, 'lora');
const CASES = ['qwen3-all', 'llama-untied-rslora', 'gpt2-regex'];
const TOL = 1e-4;

interface Expected {
  base: string;
  batches: Array<{ tokens: number[][]; mask: number[][]; logits: Array<Array<number[] | null>> }>;
}
const expected = (c: string) => JSON.parse(readFileSync(join(LORA, c, 'expected.json'), 'utf8')) as Expected;

function inputOf(tokens: number[][], mask: number[][]) {
  return { tokens: tf.tensor2d(tokens, undefined, 'int32'), attentionMask: tf.tensor2d(mask, undefined, 'float32') };
}
const BATCH = expected('qwen3-all').batches[0]!;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Worst |ours − golden| over the real positions of a batch. */
function worstAgainst(policy: HfPolicy, batch: Expected['batches'][number]): number {
  const input = inputOf(batch.tokens, batch.mask);
  const logits = policy.forward(input);
  const got = logits.arraySync();
  tf.dispose([logits, input.tokens, input.attentionMask]);
  let worst = 0;
  batch.logits.forEach((row, b) => {
    row.forEach((want, t) => {
      if (want) worst = Math.max(worst, maxAbsDiff(got[b]![t]!, want));
    });
  });
  return worst;
}

function logitsOf(policy: HfPolicy, batch = BATCH): Float32Array {
  const input = inputOf(batch.tokens, batch.mask);
  const logits = policy.forward(input);
  const out = logits.dataSync() as Float32Array;
  tf.dispose([logits, input.tokens, input.attentionMask]);
  return Float32Array.from(out);
}

/** One SGD step on −Σ logp of the batch over the policy's trainable variables. */
function sgdStep(policy: HfPolicy, lr: number): string[] {
  const input = inputOf(BATCH.tokens, BATCH.mask);
  const vars = policy.trainableVariables();
  const { value, grads } = tf.variableGrads(() => tf.neg(tf.sum(policy.tokenStats(input).logp)) as tf.Scalar, vars);
  for (const v of vars) tf.tidy(() => v.assign(tf.sub(v, tf.mul(grads[v.name]!, lr))));
  const names = Object.keys(grads);
  tf.dispose([value, ...Object.values(grads), input.tokens, input.attentionMask]);
  return names;
}

describeBackends('LoRA on HF policies', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rftkit-lora-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  for (const c of CASES) {
    describe(c, () => {
      const exp = expected(c);
      let policy: HfLoraPolicy;
      beforeAll(async () => {
        policy = (await loadHfPolicy(join(HF, exp.base), { lora: { adapter: join(LORA, c) } })) as HfLoraPolicy;
      });
      afterAll(() => policy.dispose());

      it("base + peft's saved adapter gives peft's logits", () => {
        expect(isHfLoraPolicy(policy)).toBe(true);
        for (const batch of exp.batches) expect(worstAgainst(policy, batch)).toBeLessThan(TOL);
      });

      it("adapters off is the base model (transformers' logits), sharing its weights", async () => {
        const before = tf.memory().numTensors;
        const view = policy.adaptersDisabled();
        expect(tf.memory().numTensors).toBe(before);
        expect(view.trainableVariables()).toEqual([]);
        const base = JSON.parse(readFileSync(join(HF, exp.base, 'expected.json'), 'utf8')) as Expected;
        for (const batch of base.batches) expect(worstAgainst(view, batch)).toBeLessThan(TOL);
        // The adapter moves the output (else matching peft above would prove nothing).
        expect(maxAbsDiff(logitsOf(view), logitsOf(policy))).toBeGreaterThan(0.1);
        view.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });

      it('merged export (W + scaling·B·A) loads as a plain model with the adapter forward', async () => {
        const out = join(dir, `${c}-merged`);
        await exportHfPolicy(policy, out, { adapterDir: join(dir, `${c}-adapter`) });
        const merged = await loadHfPolicy(out);
        expect(isHfLoraPolicy(merged)).toBe(false);
        for (const batch of exp.batches) expect(worstAgainst(merged, batch)).toBeLessThan(TOL);
        // Modules without an adapter are the base's, bit for bit.
        const base = policy.baseWeights();
        const targeted = new Set(policy.lora.modules.map((m) => m.weight));
        const w = merged.getWeights();
        for (const name of Object.keys(base)) {
          if (!targeted.has(name)) expect(maxAbsDiff(w[name]!.values, base[name]!.values)).toBe(0);
          else expect(maxAbsDiff(w[name]!.values, base[name]!.values)).toBeGreaterThan(0);
        }
        merged.dispose();
        // The adapter written beside it reads back as the same adapter.
        const again = await readPeftAdapter(join(dir, `${c}-adapter`));
        const orig = await readPeftAdapter(join(LORA, c));
        expect(again.settings).toEqual({ ...orig.settings, baseModel: exp.base });
        for (const [k, t] of Object.entries(orig.tensors)) expect(maxAbsDiff(again.tensors[k]!.values, t.values)).toBe(0);
      });
    });
  }

  it('a fresh adapter: step 0 equals the base exactly, A is kaiming-uniform, B zero, scaling alpha/r', async () => {
    const base = await loadHfPolicy(join(HF, 'qwen3'));
    const lora = (await loadHfPolicy(join(HF, 'qwen3'), { lora: { rank: 4, alpha: 16, targetModules: 'all-linear' } })) as HfLoraPolicy;
    expect(maxAbsDiff(logitsOf(lora), logitsOf(base))).toBe(0);
    expect(lora.lora.scaling).toBe(4);
    // qwen3 fixture: d 32, q 4·16 = 64, kv 2·16 = 32, ff 64; Σ r·(in + out) per layer, 2 layers.
    const perLayer = 32 + 64 + (32 + 32) + (32 + 32) + (64 + 32) + (32 + 64) + (32 + 64) + (64 + 32);
    expect(lora.lora.adapterParameters).toBe(2 * 4 * perLayer);
    const w = lora.getWeights();
    expect(Object.keys(w)).toHaveLength(2 * 7 * 2);
    expect(Object.values(w).reduce((n, t) => n + t.values.length, 0)).toBe(2 * 4 * perLayer);
    const a = w['base_model.model.model.layers.0.mlp.down_proj.lora_A.weight']!;
    expect(a.shape).toEqual([4, 64]);
    expect(w['base_model.model.model.layers.0.mlp.down_proj.lora_B.weight']!.shape).toEqual([32, 4]);
    // uniform(−1/√in, 1/√in): bounded, mean 0 and variance bound²/3 within 4 standard errors.
    const all = Object.entries(w).filter(([k]) => k.includes('q_proj.lora_A'));
    const xs = all.flatMap(([, t]) => [...t.values]);
    const bound = 1 / Math.sqrt(32);
    expect(Math.max(...xs.map(Math.abs))).toBeLessThanOrEqual(bound);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + x * x, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(4 * Math.sqrt(bound ** 2 / 3 / xs.length));
    expect(Math.abs(variance - bound ** 2 / 3)).toBeLessThan(4 * Math.sqrt((bound ** 4 / 5 - bound ** 4 / 9) / xs.length));
    for (const [k, t] of Object.entries(w)) if (k.includes('lora_B')) expect(t.values.every((v) => v === 0)).toBe(true);
    base.dispose();
    lora.dispose();
  });

  it('only the adapters train: gradients exist for them alone, the base is unchanged, every adapter moves', async () => {
    const policy = (await loadHfPolicy(join(HF, 'gpt2'), { lora: { rank: 2, targetModules: ['c_attn', 'c_proj', 'c_fc'] } })) as HfLoraPolicy;
    const vars = policy.trainableVariables();
    expect(vars).toHaveLength(2 * 2 * 4);
    expect(vars.every((v) => v.trainable)).toBe(true);
    // With no variable list, tfjs differentiates every trainable variable: only adapters are.
    const input = inputOf(BATCH.tokens, BATCH.mask);
    const { value, grads } = tf.variableGrads(() => tf.sum(policy.tokenStats(input).logp) as tf.Scalar);
    expect(Object.keys(grads).sort()).toEqual(vars.map((v) => v.name).sort());
    tf.dispose([value, ...Object.values(grads), input.tokens, input.attentionMask]);

    const base0 = policy.baseWeights();
    const ad0 = policy.getWeights();
    const before = tf.memory().numTensors;
    // Two steps: B starts at 0, so A's gradient is 0 until B has moved.
    sgdStep(policy, 0.05);
    sgdStep(policy, 0.05);
    expect(tf.memory().numTensors).toBe(before);
    const base1 = policy.baseWeights();
    for (const k of Object.keys(base0)) expect(maxAbsDiff(base1[k]!.values, base0[k]!.values)).toBe(0);
    const ad1 = policy.getWeights();
    for (const k of Object.keys(ad0)) expect(maxAbsDiff(ad1[k]!.values, ad0[k]!.values), k).toBeGreaterThan(0);
    // The reference (adapters off) is still the untrained base.
    const ref = policy.referencePolicy();
    const plain = await loadHfPolicy(join(HF, 'gpt2'));
    expect(maxAbsDiff(logitsOf(ref), logitsOf(plain))).toBe(0);
    expect(maxAbsDiff(logitsOf(policy), logitsOf(plain))).toBeGreaterThan(0);
    for (const p of [ref, plain, policy]) p.dispose();
  });

  it('forward, tokenStats and KV-cache decoding free their tensors; decode steps equal the full forward', async () => {
    const policy = await loadHfPolicy(join(HF, 'llama-untied'), { lora: { adapter: join(LORA, 'llama-untied-rslora') } });
    const input = inputOf(BATCH.tokens, BATCH.mask);
    const before = tf.memory().numTensors;
    const stats = policy.tokenStats(input, { temperature: 0.8 });
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([stats.logp, stats.entropy]);
    const { session, logits } = policy.startDecode(input, 2);
    const next = session.step(Int32Array.from([3, 4, 5]));
    const fullTokens = BATCH.tokens.map((r, b) => [...r, [3, 4, 5][b]!]);
    const full = inputOf(fullTokens, BATCH.mask.map((m) => [...m, 1]));
    const all = policy.forward(full);
    const last = tf.tidy(() => tf.reshape(tf.slice(all, [0, 8, 0], [3, 1, -1]), [3, -1]));
    expect(maxAbsDiff(next.dataSync(), last.dataSync())).toBeLessThan(1e-5);
    session.dispose();
    tf.dispose([logits, next, all, last, full.tokens, full.attentionMask]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([input.tokens, input.attentionMask]);
    policy.dispose();
  });

  it('clones copy the adapters and share the base; views outlive the policy; the last one frees the base', async () => {
    const start = tf.memory().numTensors;
    const policy = (await loadHfPolicy(join(HF, 'qwen3'), { lora: { rank: 2 } })) as HfLoraPolicy;
    const loaded = tf.memory().numTensors - start;
    const adapters = policy.trainableVariables().length;
    expect(adapters).toBe(2 * 2 * 2); // q_proj, v_proj (PEFT's default) × 2 layers × A, B
    const clone = policy.clone({ trainable: false });
    expect(tf.memory().numTensors - start).toBe(loaded + adapters);
    expect(clone.trainableVariables()).toEqual([]);
    sgdStep(policy, 0.1);
    expect(maxAbsDiff(logitsOf(clone), logitsOf(policy))).toBeGreaterThan(0);
    const view = policy.adaptersDisabled();
    policy.dispose();
    clone.dispose();
    expect(tf.memory().numTensors - start).toBe(loaded - adapters);
    expect(logitsOf(view)).toHaveLength(3 * 8 * 96);
    expect(() => view.setWeights({})).toThrow(ShapeError);
    view.dispose();
    expect(tf.memory().numTensors).toBe(start);
    expect(() => policy.forward(inputOf([[1]], [[1]]))).toThrow(/disposed/);
  });

  it('dropout: 0 is deterministic under a tape; > 0 drops only in gradient passes, reproducibly per seed', async () => {
    const make = (dropout: number) => loadHfPolicy(join(HF, 'qwen3'), { lora: { adapter: join(LORA, 'qwen3-all'), dropout } }) as Promise<HfLoraPolicy>;
    const input = inputOf(BATCH.tokens, BATCH.mask);
    const taped = (p: HfPolicy) => {
      let out: Float32Array = new Float32Array();
      const { value, grads } = tf.variableGrads(() => {
        const logp = p.tokenStats(input).logp;
        out = Float32Array.from(logp.dataSync());
        return tf.sum(logp) as tf.Scalar;
      }, p.trainableVariables());
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const plain = (p: HfPolicy) => {
      const s = p.tokenStats(input);
      const out = Float32Array.from(s.logp.dataSync());
      tf.dispose([s.logp, s.entropy]);
      return out;
    };
    const p0 = await make(0);
    expect(maxAbsDiff(taped(p0), taped(p0))).toBe(0);
    expect(maxAbsDiff(taped(p0), plain(p0))).toBe(0);
    const pd = await make(0.5);
    expect(maxAbsDiff(plain(pd), plain(p0))).toBe(0);
    const first = taped(pd);
    const second = taped(pd);
    expect(maxAbsDiff(first, plain(p0))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(first, second)).toBeGreaterThan(1e-3);
    const again = await make(0.5);
    expect(maxAbsDiff(taped(again), first)).toBe(0);
    tf.dispose([input.tokens, input.attentionMask]);
    for (const p of [p0, pd, again]) p.dispose();
  });

  it('a checkpoint stores the adapters as a PEFT folder (no base weights) and restores the same policy', async () => {
    const policy = (await loadHfPolicy(join(HF, 'qwen3'), { lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'down_proj'] } })) as HfLoraPolicy;
    sgdStep(policy, 0.1);
    sgdStep(policy, 0.1);
    const ckpt = join(dir, 'ckpt');
    await savePolicy(ckpt, policy);
    for (const f of ['policy.json', 'weights.bin', ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]) expect(existsSync(join(ckpt, f)), f).toBe(true);
    expect(statSync(join(ckpt, 'weights.bin')).size).toBe(4 * policy.lora.adapterParameters);
    const cfg = JSON.parse(await readFile(join(ckpt, ADAPTER_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, lora_dropout: 0, bias: 'none', target_modules: ['q_proj', 'down_proj'] });
    expect(cfg.base_model_name_or_path).toBe(join(HF, 'qwen3'));
    const back = await loadPolicy(ckpt);
    expect(isHfLoraPolicy(back)).toBe(true);
    expect(maxAbsDiff(logitsOf(back as HfPolicy), logitsOf(policy))).toBe(0);
    expect(back.trainableVariables()).toHaveLength(policy.trainableVariables().length);
    // The same adapter read by the PEFT-folder path.
    const viaPeft = await loadHfPolicy(join(HF, 'qwen3'), { lora: { adapter: ckpt } });
    expect(maxAbsDiff(logitsOf(viaPeft), logitsOf(policy))).toBe(0);
    for (const p of [back, viaPeft, policy]) p.dispose();
  });

  it('a LoRA checkpoint refuses a base model whose config.json changed', async () => {
    const src = await mkdtemp(join(tmpdir(), 'rftkit-lora-base-'));
    try {
      for (const f of ['config.json', 'model.safetensors']) await writeFile(join(src, f), await readFile(join(HF, 'qwen3', f)));
      const policy = await loadHfPolicy(src, { lora: { rank: 2 } });
      await savePolicy(join(src, 'ckpt'), policy);
      policy.dispose();
      const config = JSON.parse(await readFile(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(src, 'config.json'), JSON.stringify({ ...config, rms_norm_eps: 1e-5 }));
      await expect(loadPolicy(join(src, 'ckpt'))).rejects.toThrow(/other than the one this LoRA checkpoint was trained on/);
    } finally {
      await rm(src, { recursive: true, force: true });
    }
  });

  it('bad options fail before any tensor is made, naming the field and what exists', async () => {
    const before = tf.memory().numTensors;
    const load = (lora: unknown, model = 'qwen3') => loadHfPolicy(join(HF, model), { lora: lora as never });
    await expect(load({ targetModules: ['q_proj', 'qproj'] })).rejects.toThrow(OptionsError);
    await expect(load({ targetModules: ['qproj'] })).rejects.toThrow(
      /targetModules: 'qproj' matches no module; the qwen3 model's linear modules: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/,
    );
    await expect(load({ targetModules: ['q_proj'] }, 'gpt2')).rejects.toThrow(/linear modules: c_attn, c_proj, c_fc/);
    await expect(load({ targetModules: 'layers\\.0\\.q_proj' })).rejects.toThrow(/regex .* matches no full module name \(e\.g\. model\.layers\.0\.self_attn\.q_proj\)/);
    await expect(load({ targetModules: '(' })).rejects.toThrow(/targetModules: .*not a valid regular expression/);
    await expect(load({ rank: 0 })).rejects.toThrow(/rank/);
    await expect(load({ rank: 4, alpha: -1 })).rejects.toThrow(/alpha/);
    await expect(load({ rnak: 4 })).rejects.toThrow(/rnak/);
    await expect(load({ adapter: join(LORA, 'qwen3-all'), rank: 4 })).rejects.toThrow(/rank: comes from the adapter's adapter_config.json/);
    // An adapter made for another model: its modules and shapes are checked.
    await expect(load({ adapter: join(LORA, 'qwen3-all') }, 'llama-gqa')).rejects.toThrow(CheckpointError);
    // Block recomputation does not cover adapter weights yet: refused, not silently wrong.
    await expect(loadHfPolicy(join(HF, 'qwen3'), { lora: { rank: 4 }, recompute: true })).rejects.toThrow(/recompute: is not supported together with lora/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('adapter folders peft could not mean the same way are refused, naming the field', async () => {
    const bad = join(dir, 'bad-adapter');
    const cfg = JSON.parse(readFileSync(join(LORA, 'qwen3-all', ADAPTER_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
    await rm(bad, { recursive: true, force: true });
    await mkdir(bad);
    await writeFile(join(bad, ADAPTER_WEIGHTS_FILE), await readFile(join(LORA, 'qwen3-all', ADAPTER_WEIGHTS_FILE)));
    for (const [field, value, pattern] of [
      ['use_dora', true, /use_dora: DoRA is not supported/],
      ['bias', 'all', /bias: only 'none' is supported/],
      ['peft_type', 'IA3', /peft_type: must be 'LORA'/],
      ['rank_pattern', { q_proj: 2 }, /rank_pattern: per-module ranks/],
    ] as const) {
      await writeFile(join(bad, ADAPTER_CONFIG_FILE), JSON.stringify({ ...cfg, [field]: value }));
      await expect(loadHfPolicy(join(HF, 'qwen3'), { lora: { adapter: bad } })).rejects.toThrow(pattern);
      await expect(readPeftAdapter(bad)).rejects.toThrow(ConfigError);
    }
  });

  // With RFTKIT_LORA_EXPORT_DIR set, trained adapters (rftkit's PEFT folders), their merged
  // exports and rftkit's logits stay there for __fixtures__/hf/lora/check_peft.py.
  it.runIf(process.env.RFTKIT_LORA_EXPORT_DIR)('writes adapters for the peft check', async () => {
    const root = process.env.RFTKIT_LORA_EXPORT_DIR!;
    const cases: Array<[string, string, LoraOptions]> = [
      ['qwen3-all-linear', 'qwen3', { rank: 4, alpha: 8, targetModules: 'all-linear' }],
      ['llama-untied-rslora', 'llama-untied', { rank: 4, alpha: 2, rslora: true, targetModules: ['k_proj', 'o_proj', 'up_proj'] }],
      ['gpt2-regex', 'gpt2', { rank: 3, alpha: 6, targetModules: '.*\\.h\\.1\\.(attn\\.c_attn|mlp\\.c_fc)' }],
    ];
    for (const [name, model, lora] of cases) {
      const policy = (await loadHfPolicy(join(HF, model), { lora })) as HfLoraPolicy;
      for (let i = 0; i < 3; i++) sgdStep(policy, 0.2);
      const out = join(root, name);
      await policy.saveAdapter(join(out, 'adapter'));
      await exportHfPolicy(policy, join(out, 'merged'));
      const base = JSON.parse(readFileSync(join(HF, model, 'expected.json'), 'utf8')) as Expected;
      const batches = base.batches.map((b) => {
        const input = inputOf(b.tokens, b.mask);
        const logits = policy.forward(input);
        const values = logits.arraySync();
        tf.dispose([logits, input.tokens, input.attentionMask]);
        return { tokens: b.tokens, mask: b.mask, logits: values };
      });
      writeFileSync(join(out, 'rftkit-logits.json'), JSON.stringify({ base: join(HF, model), batches }));
      policy.dispose();
    }
  });
});
