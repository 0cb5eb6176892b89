import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@rftkit/core';
import { describe, expect, it } from 'vitest';
import expected from './__fixtures__/configs/expected.json';
import { type HfModelConfig, parseHfConfig, readHfConfig } from './config';

const DIR = join(import.meta.dirname, '__fixtures__/configs');
const raw = (name: string) => JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'));

describe('config.json as transformers reads it', () => {
  // expected.json: each config loaded by transformers' own config class (generate.py).
  it.each(Object.keys(expected))('%s', (name) => {
    const got = parseHfConfig(raw(name), `${name}.json`);
    const want = (expected as Record<string, Partial<HfModelConfig>>)[name] as Partial<HfModelConfig>;
    const picked = Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof HfModelConfig]]));
    expect(picked).toEqual(want);
  });

  it('family-specific fields', () => {
    const qwen2 = parseHfConfig(raw('qwen2.5-0.5b'));
    expect([qwen2.attentionBias, qwen2.attentionOutputBias, qwen2.qkNorm, qwen2.torchDtype]).toEqual([true, false, false, 'bfloat16']);
    const qwen3 = parseHfConfig(raw('qwen3-0.6b'));
    expect([qwen3.qkNorm, qwen3.attentionBias, qwen3.headDim * qwen3.numHeads]).toEqual([true, false, 2048]);
    const gpt2 = parseHfConfig(raw('gpt2'));
    expect([gpt2.normType, gpt2.positionEmbedding, gpt2.attentionBias, gpt2.mlpBias]).toEqual(['layer', 'learned', true, true]);
    expect(parseHfConfig(raw('mistral-7b-v0.1')).slidingWindow).toBe(4096);
    expect(parseHfConfig({ ...raw('mistral-7b-v0.1'), sliding_window: null }).slidingWindow).toBeNull();
    expect(parseHfConfig({ ...raw('minimal-llama'), attention_bias: true, mlp_bias: true })).toMatchObject({
      attentionBias: true,
      attentionOutputBias: true,
      mlpBias: true,
    });
  });

  it("reads transformers 5's rope_parameters and dtype", () => {
    const { rope_scaling: _s, rope_theta: _t, torch_dtype: _d, ...rest } = raw('llama-3.2-1b');
    const v5 = parseHfConfig({
      ...rest,
      dtype: 'bfloat16',
      rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    });
    const v4 = parseHfConfig(raw('llama-3.2-1b'));
    expect(v5).toEqual(v4);
  });
});

describe('bad configs are ConfigErrors naming the field', () => {
  it('an unsupported model_type lists the supported ones', () => {
    const err = (() => {
      try {
        parseHfConfig({ model_type: 'phi3' }, 'x/config.json');
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toMatch(/x\/config\.json[\s\S]*model_type: "phi3" is not supported \(supported: llama, qwen2, qwen3, mistral, gpt2\)/);
    expect(() => parseHfConfig({})).toThrow(/model_type: null is not supported/);
  });

  it('an unsupported rope_scaling type lists the supported ones; llama3 needs its fields', () => {
    expect(() => parseHfConfig({ ...raw('minimal-llama'), rope_scaling: { type: 'yarn', factor: 4 } })).toThrow(
      /rope_scaling\.rope_type: 'yarn' is not supported \(supported: default, llama3\)/,
    );
    expect(() => parseHfConfig({ ...raw('minimal-llama'), rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(
      /rope_scaling\.low_freq_factor: required for llama3 RoPE scaling/,
    );
  });

  it('missing or wrong fields, impossible head counts, qwen sliding windows', () => {
    const { hidden_size: _h, ...noHidden } = raw('minimal-llama');
    expect(() => parseHfConfig(noHidden)).toThrow(/hidden_size: /);
    expect(() => parseHfConfig({ ...raw('minimal-llama'), num_key_value_heads: 3 })).toThrow(/num_key_value_heads: 3 does not divide num_attention_heads \(4\)/);
    expect(() => parseHfConfig({ ...raw('minimal-llama'), num_attention_heads: 5 })).toThrow(/hidden_size: 64 is not divisible by num_attention_heads \(5\)/);
    expect(() => parseHfConfig({ ...raw('minimal-gpt2'), n_head: 5 })).toThrow(/n_embd: 64 is not divisible by n_head \(5\)/);
    expect(() => parseHfConfig({ ...raw('minimal-llama'), hidden_act: 'swiglu-ish' })).toThrow(/hidden_act/);
    expect(() => parseHfConfig({ ...raw('qwen2.5-0.5b'), use_sliding_window: true })).toThrow(/use_sliding_window: sliding-window attention is supported for mistral only/);
  });

  it('readHfConfig: a folder without config.json, or invalid JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rftkit-hf-cfg-'));
    try {
      await expect(readHfConfig(dir)).rejects.toThrow(/config\.json[\s\S]*cannot read: ENOENT/);
      await writeFile(join(dir, 'config.json'), '{"model_type": ');
      await expect(readHfConfig(dir)).rejects.toThrow(/not valid JSON/);
      await writeFile(join(dir, 'config.json'), JSON.stringify(raw('qwen3-0.6b')));
      expect((await readHfConfig(dir)).modelType).toBe('qwen3');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
