// Mistral (MistralForCausalLM): the llama decoder with optional sliding-window attention.
// Within the window it is plain causal attention; longer sequences are refused rather than
// computed differently from transformers.
import { ShapeError } from '@rftkit/core';
import type { HfModelConfig } from '@rftkit/hf';
import type { Arch } from './arch';
import { ropeDecoder } from './llama';

export function mistralArch(cfg: HfModelConfig): Arch {
  const arch = ropeDecoder(cfg);
  const window = cfg.slidingWindow;
  return {
    ...arch,
    checkLength(length, where) {
      if (window !== null && length > window) {
        throw new ShapeError(
          where,
          `sequence length ${length} exceeds mistral's sliding_window ${window}; sliding-window attention is not implemented (keep prompt + new tokens within the window)`,
        );
      }
    },
  };
}
