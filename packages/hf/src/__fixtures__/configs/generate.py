"""Expected normalized fields of each config in this folder, as transformers' config classes read them.

The *.json inputs are config.json files as published on the Hub (SmolLM2-135M, TinyLlama-1.1B,
Llama-3.2-1B, Qwen2.5-0.5B, Qwen3-0.6B, Mistral-7B-v0.1, gpt2) plus minimal ones that leave
every optional field to the class defaults. Loading them with transformers' config class
(offline) gives the truth for the defaults; expected.json holds the fields HfModelConfig has.
Run: python3 packages/hf/src/__fixtures__/configs/generate.py
"""
import glob
import json
import os

from transformers import AutoConfig

HERE = os.path.dirname(os.path.abspath(__file__))


def eos_list(v):
    return [] if v is None else (list(v) if isinstance(v, (list, tuple)) else [v])


def normalize(c):
    if c.model_type == "gpt2":
        return {
            "hiddenSize": c.n_embd, "numLayers": c.n_layer, "numHeads": c.n_head, "numKvHeads": c.n_head,
            "headDim": c.n_embd // c.n_head, "intermediateSize": c.n_inner or 4 * c.n_embd, "vocabSize": c.vocab_size,
            "normEps": c.layer_norm_epsilon, "ropeTheta": None, "ropeScaling": None, "maxPositionEmbeddings": c.n_positions,
            "tieWordEmbeddings": c.tie_word_embeddings, "hiddenAct": c.activation_function,
            "bosTokenId": c.bos_token_id, "eosTokenIds": eos_list(c.eos_token_id), "padTokenId": c.pad_token_id,
            "slidingWindow": None,
        }
    rope = getattr(c, "rope_parameters", None) or {}
    theta = rope.get("rope_theta", getattr(c, "rope_theta", None))
    rope_type = rope.get("rope_type", "default")
    scaling = None
    if rope_type == "llama3":
        scaling = {"type": "llama3", "factor": rope["factor"], "lowFreqFactor": rope["low_freq_factor"],
                   "highFreqFactor": rope["high_freq_factor"], "originalMaxPositionEmbeddings": rope["original_max_position_embeddings"]}
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    return {
        "hiddenSize": c.hidden_size, "numLayers": c.num_hidden_layers, "numHeads": c.num_attention_heads,
        "numKvHeads": c.num_key_value_heads, "headDim": head_dim, "intermediateSize": c.intermediate_size,
        "vocabSize": c.vocab_size, "normEps": c.rms_norm_eps, "ropeTheta": theta, "ropeScaling": scaling,
        "maxPositionEmbeddings": c.max_position_embeddings, "tieWordEmbeddings": c.tie_word_embeddings,
        "hiddenAct": c.hidden_act, "bosTokenId": c.bos_token_id, "eosTokenIds": eos_list(c.eos_token_id),
        "padTokenId": c.pad_token_id,
        # transformers keeps qwen2's sliding_window only when use_sliding_window is on.
        "slidingWindow": getattr(c, "sliding_window", None) if c.model_type == "mistral" else None,
        "attentionBias": getattr(c, "attention_bias", c.model_type == "qwen2"),
    }


def main():
    out = {}
    for path in sorted(glob.glob(os.path.join(HERE, "*.json"))):
        name = os.path.basename(path)[:-5]
        if name == "expected":
            continue
        raw = json.load(open(path))
        cfg = AutoConfig.for_model(raw["model_type"], **{k: v for k, v in raw.items() if k != "model_type"})
        out[name] = normalize(cfg)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote expected.json for", list(out))


if __name__ == "__main__":
    main()
