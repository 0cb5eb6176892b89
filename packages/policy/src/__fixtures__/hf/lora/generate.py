"""LoRA adapters made by peft on the tiny random models of ../generate.py, and their logits.

Run from this folder: `python3 generate.py` (offline). For each case, peft wraps the base
model with a LoraConfig, both lora_A and lora_B get random values (B is non-zero, so the
adapter changes the output), the adapter is saved with `save_pretrained` in `<case>/`
(adapter_config.json + adapter_model.safetensors) and `expected.json` holds the float32 logits
of base + adapter on the same left-padded batches as ../generate.py. Tests read these; they
never run Python.
"""

import json
import os
import shutil
import sys

import peft
import torch
import transformers as tr

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
sys.path.insert(0, MODELS)
from generate import BATCHES, positions  # noqa: E402

# name: (base fixture, LoraConfig arguments). Each covers one way of naming targets.
CASES = {
    # Every linear module of a llama-style layer, listed by name.
    "qwen3-all": ("qwen3", dict(r=4, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                                     "gate_proj", "up_proj", "down_proj"])),
    # Biased base layers and rank-stabilised scaling (alpha / sqrt(r)).
    "llama-untied-rslora": ("llama-untied", dict(r=8, lora_alpha=4, use_rslora=True,
                                                 target_modules=["q_proj", "v_proj", "down_proj"])),
    # GPT-2's Conv1D layers (fan_in_fan_out), targets as one regex over full module names.
    "gpt2-regex": ("gpt2", dict(r=2, lora_alpha=6, fan_in_fan_out=True,
                                target_modules=r".*\.attn\.c_attn|.*\.mlp\.c_(fc|proj)")),
}


def main():
    for i, (name, (base, kw)) in enumerate(CASES.items()):
        model = tr.AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, base), dtype=torch.float32,
                                                        attn_implementation="eager").eval()
        config = peft.LoraConfig(task_type="CAUSAL_LM", lora_dropout=0.0, init_lora_weights=False, **kw)
        pm = peft.get_peft_model(model, config)
        g = torch.Generator().manual_seed(2000 + i)
        with torch.no_grad():
            for pname, p in pm.named_parameters():
                if "lora_" in pname:
                    p.copy_(0.3 * torch.randn(p.shape, generator=g))
        pm.peft_config["default"].base_model_name_or_path = base
        out = os.path.join(HERE, name)
        shutil.rmtree(out, ignore_errors=True)
        pm.save_pretrained(out)
        os.remove(os.path.join(out, "README.md"))  # peft's model-card template
        expected = {"case": name, "base": base, "peft": peft.__version__, "transformers": tr.__version__,
                    "torch": torch.__version__, "batches": []}
        pm.eval()
        with torch.no_grad():
            for rows in BATCHES:
                ids = torch.tensor(rows)
                mask = (ids != 0).long()
                logits = pm(input_ids=ids, attention_mask=mask, position_ids=positions(mask)).logits
                base_logits = None
                with pm.disable_adapter():
                    base_logits = pm(input_ids=ids, attention_mask=mask, position_ids=positions(mask)).logits
                # The adapter must move the logits, or matching them would prove nothing.
                assert (logits - base_logits).abs().max().item() > 0.1, name
                values = [[[round(v, 6) for v in logits[b, t].tolist()] if mask[b, t] else None
                           for t in range(ids.shape[1])] for b in range(ids.shape[0])]
                expected["batches"].append({"tokens": rows, "mask": mask.tolist(), "logits": values})
        with open(os.path.join(out, "expected.json"), "w") as f:
            json.dump(expected, f, separators=(",", ":"))
        print(name, "saved", sorted(os.listdir(out)))


if __name__ == "__main__":
    main()
