// Qwen2 (Qwen2ForCausalLM): the llama decoder with a bias on q, k and v (never on o_proj or
// the MLP); the config normalisation sets those flags. Sliding windows are refused there.
import type { HfModelConfig } from '@rftkit/hf';
import type { Arch } from './arch';
import { ropeDecoder } from './llama';

export function qwen2Arch(cfg: HfModelConfig): Arch {
  return ropeDecoder({ ...cfg, attentionBias: true, attentionOutputBias: false, mlpBias: false });
}
