// Qwen3 (Qwen3ForCausalLM): the llama decoder with an RMSNorm over each head of q and k
// (before RoPE) and an explicit head_dim (heads·head_dim may differ from hidden_size).
import type { HfModelConfig } from '@rftkit/hf';
import type { Arch } from './arch';
import { ropeDecoder } from './llama';

export function qwen3Arch(cfg: HfModelConfig): Arch {
  return ropeDecoder(cfg, { qkNorm: true });
}
