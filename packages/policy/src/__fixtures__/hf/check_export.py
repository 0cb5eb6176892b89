"""Loads folders exported by rftkit in transformers and compares logits with rftkit's.

    RFTKIT_HF_EXPORT_DIR=/tmp/hf-export pnpm --filter @rftkit/policy exec vitest run src/hf/hf.test.ts
    python3 check_export.py /tmp/hf-export

Each `<model>-<dtype>/` folder holds the export and `rftkit-logits.json` (rftkit's float32
logits of the same folder, reloaded); transformers' logits (AutoModelForCausalLM, float32,
position ids = cumsum(mask) - 1) must agree within 1e-4 at every real position.
"""

import json
import os
import sys

import torch
import transformers as tr

TOL = 1e-4


def main(root):
    worst_all = 0.0
    folders = sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "rftkit-logits.json")))
    if not folders:
        sys.exit(f"no exported folders under {root}")
    for name in folders:
        folder = os.path.join(root, name)
        model = tr.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
        with open(os.path.join(folder, "rftkit-logits.json")) as f:
            ours = json.load(f)
        worst = 0.0
        with torch.no_grad():
            for batch in ours["batches"]:
                ids = torch.tensor(batch["tokens"])
                mask = torch.tensor(batch["mask"])
                pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
                logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
                rft = torch.tensor(batch["logits"])
                real = mask.bool()
                worst = max(worst, (logits[real] - rft[real]).abs().max().item())
        worst_all = max(worst_all, worst)
        print(f"{name}: max |transformers - rftkit| = {worst:.2e}")
    print(f"worst {worst_all:.2e} ({'OK' if worst_all < TOL else 'FAIL'}, tolerance {TOL})")
    sys.exit(0 if worst_all < TOL else 1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/hf-export")
