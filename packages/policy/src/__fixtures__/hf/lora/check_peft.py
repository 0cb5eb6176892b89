"""Loads adapters saved by rftkit in peft, and rftkit's merged exports in transformers.

    RFTKIT_LORA_EXPORT_DIR=/tmp/lora-export pnpm --filter @rftkit/policy exec vitest run src/hf/lora.test.ts
    python3 check_peft.py /tmp/lora-export

Each `<case>/` holds `adapter/` (rftkit's PEFT folder of a trained adapter), `merged/` (rftkit's
merged export) and `rftkit-logits.json` (rftkit's float32 logits with the adapter). peft's
`PeftModel.from_pretrained(base, adapter)` and transformers on `merged/` must both agree with
rftkit within 1e-4 at every real position (position ids = cumsum(mask) - 1).
"""

import json
import os
import sys

import peft
import torch
import transformers as tr

TOL = 1e-4


def logits_of(model, batch):
    ids = torch.tensor(batch["tokens"])
    mask = torch.tensor(batch["mask"])
    pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, position_ids=pos).logits


def main(root):
    worst_all = 0.0
    cases = sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "rftkit-logits.json")))
    if not cases:
        sys.exit(f"no rftkit adapters under {root}")
    for name in cases:
        folder = os.path.join(root, name)
        with open(os.path.join(folder, "rftkit-logits.json")) as f:
            ours = json.load(f)
        load = dict(dtype=torch.float32, attn_implementation="eager")
        base = tr.AutoModelForCausalLM.from_pretrained(ours["base"], **load).eval()
        adapted = peft.PeftModel.from_pretrained(base, os.path.join(folder, "adapter")).eval()
        merged = tr.AutoModelForCausalLM.from_pretrained(os.path.join(folder, "merged"), **load).eval()
        worst = {"peft": 0.0, "merged": 0.0, "adapter effect": 0.0}
        for batch in ours["batches"]:
            real = torch.tensor(batch["mask"]).bool()
            rft = torch.tensor(batch["logits"])
            p = logits_of(adapted, batch)
            worst["peft"] = max(worst["peft"], (p[real] - rft[real]).abs().max().item())
            worst["merged"] = max(worst["merged"], (logits_of(merged, batch)[real] - rft[real]).abs().max().item())
            with adapted.disable_adapter():
                worst["adapter effect"] = max(worst["adapter effect"], (logits_of(adapted, batch)[real] - p[real]).abs().max().item())
        # A trained adapter must change the output, or the comparison proves nothing.
        assert worst["adapter effect"] > 1e-2, f"{name}: the adapter does not change the logits"
        worst_all = max(worst_all, worst["peft"], worst["merged"])
        print(f"{name}: max |peft - rftkit| = {worst['peft']:.2e}, max |transformers(merged) - rftkit| = "
              f"{worst['merged']:.2e} (adapter moves logits by up to {worst['adapter effect']:.2f})")
    print(f"worst {worst_all:.2e} ({'OK' if worst_all < TOL else 'FAIL'}, tolerance {TOL})")
    sys.exit(0 if worst_all < TOL else 1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/lora-export")
