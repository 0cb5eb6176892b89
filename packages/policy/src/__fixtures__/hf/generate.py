"""Tiny random-weight Hugging Face decoder models and their reference outputs.

Run from this folder: `python3 generate.py` (offline: models are built from config objects).
Each model is saved with `save_pretrained` (safetensors) in `<name>/`, with `expected.json`:
float32 logits of left-padded id batches (position ids = cumsum(mask) - 1, as transformers'
generate computes them) and greedy `generate` ids. Tests read these; they never run Python.
"""

import json
import os
import shutil

import torch
import transformers as tr

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = 96

ROPE = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            vocab_size=VOCAB, max_position_embeddings=64, rms_norm_eps=1e-6,
            bos_token_id=1, eos_token_id=2, pad_token_id=0)

MODELS = {
    "llama-gqa": (tr.LlamaConfig, tr.LlamaForCausalLM, dict(ROPE, num_key_value_heads=2, tie_word_embeddings=True)),
    "llama-untied": (tr.LlamaConfig, tr.LlamaForCausalLM,
                     dict(ROPE, num_key_value_heads=4, tie_word_embeddings=False, attention_bias=True, mlp_bias=True)),
    "llama3-rope": (tr.LlamaConfig, tr.LlamaForCausalLM,
                    dict(ROPE, num_key_value_heads=2, tie_word_embeddings=False, rope_theta=500000.0,
                         rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                           high_freq_factor=4.0, original_max_position_embeddings=16))),
    "llama-mqa": (tr.LlamaConfig, tr.LlamaForCausalLM, dict(ROPE, num_key_value_heads=1, tie_word_embeddings=False)),
    "qwen2": (tr.Qwen2Config, tr.Qwen2ForCausalLM,
              dict(ROPE, num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1000000.0, use_sliding_window=False)),
    "qwen3": (tr.Qwen3Config, tr.Qwen3ForCausalLM,
              dict(ROPE, num_key_value_heads=2, head_dim=16, tie_word_embeddings=True, rope_theta=1000000.0,
                   use_sliding_window=False)),
    "mistral": (tr.MistralConfig, tr.MistralForCausalLM,
                dict(ROPE, num_key_value_heads=2, tie_word_embeddings=False, sliding_window=32)),
    "gpt2": (tr.GPT2Config, tr.GPT2LMHeadModel,
             dict(n_embd=32, n_layer=2, n_head=4, n_positions=64, vocab_size=VOCAB, activation_function="gelu_new",
                  bos_token_id=1, eos_token_id=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)),
}

# Left-padded rows (0 = pad); the layout rollout uses for prompts.
BATCHES = [
    [[5, 17, 33, 8, 61, 2, 44, 90], [0, 0, 0, 12, 7, 7, 30, 55], [0, 0, 0, 0, 0, 0, 0, 71]],
    [[0, 3, 14, 15, 92, 65, 35, 89, 79, 32, 38], [9, 26, 53, 58, 97 % VOCAB, 93, 23, 84, 62, 64, 33]],
]
PROMPTS = [[0, 0, 0, 11, 22, 33], [4, 8, 15, 16, 23, 42], [0, 0, 0, 0, 0, 50]]
NEW_TOKENS = 8


def randomize(model, seed):
    """Weights large enough that logits vary strongly with the input (default init is tiny)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("norm" in name or ".ln_" in name):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.25 * torch.randn(p.shape, generator=g))


def positions(mask):
    pos = mask.long().cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 1)


def main():
    torch.manual_seed(0)
    for i, (name, (cfg_cls, model_cls, kw)) in enumerate(MODELS.items()):
        cfg = cfg_cls(**kw)
        cfg._attn_implementation = "eager"
        torch.manual_seed(1000 + i)
        model = model_cls(cfg).eval().to(torch.float32)
        randomize(model, 1000 + i)
        if cfg.tie_word_embeddings:
            model.tie_weights()
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = 0
        out = os.path.join(HERE, name)
        shutil.rmtree(out, ignore_errors=True)
        model.save_pretrained(out, safe_serialization=True)
        expected = {"model": name, "transformers": tr.__version__, "torch": torch.__version__, "batches": [], "generate": {}}
        with torch.no_grad():
            for rows in BATCHES:
                ids = torch.tensor(rows)
                mask = (ids != 0).long()
                logits = model(input_ids=ids, attention_mask=mask, position_ids=positions(mask)).logits
                # Padded positions carry no meaning; they are written as null.
                values = [[[round(v, 6) for v in logits[b, t].tolist()] if mask[b, t] else None
                           for t in range(ids.shape[1])] for b in range(ids.shape[0])]
                expected["batches"].append({"tokens": rows, "mask": mask.tolist(), "logits": values})
            ids = torch.tensor(PROMPTS)
            mask = (ids != 0).long()
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False,
                                 eos_token_id=None, pad_token_id=0)
            expected["generate"] = {"prompts": PROMPTS, "mask": mask.tolist(), "maxNewTokens": NEW_TOKENS,
                                    "tokens": gen[:, ids.shape[1]:].tolist()}
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump(expected, f, separators=(",", ":"))
        print(name, "saved", sorted(os.listdir(out)))


if __name__ == "__main__":
    main()
