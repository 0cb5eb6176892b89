"""Golden safetensors files written by Python `safetensors` (torch), for packages/hf tests.

Writes:
  single/model.safetensors          F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL tensors + metadata
  sharded/model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json (via save_torch_state_dict)
  expected.json                     every tensor's dtype, shape and float32 values (as torch upcasts them)
Run: python3 packages/hf/src/__fixtures__/safetensors/generate.py
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from huggingface_hub import save_torch_state_dict

HERE = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(*shape, generator=g)


# Special values: subnormals, infinities, NaN-free extremes, values that round in 16-bit types.
special = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1e-5, 5.96e-8, 1e-40, 3.0e38, float("inf"), float("-inf"), 1.00390625])

single = {
    "f32.weight": randn(3, 4),
    "f16.weight": randn(2, 5).to(torch.float16),
    "bf16.weight": randn(4, 3).to(torch.bfloat16),
    "f16.special": special.to(torch.float16),
    "bf16.special": special.to(torch.bfloat16),
    "f64.values": randn(5).to(torch.float64),
    "i64.values": torch.tensor([-3, 0, 7, 2**40], dtype=torch.int64),
    "i32.values": torch.tensor([[-1, 2], [3, -4]], dtype=torch.int32),
    "i16.values": torch.tensor([-32768, 32767], dtype=torch.int16),
    "i8.values": torch.tensor([-128, 5, 127], dtype=torch.int8),
    "u8.values": torch.tensor([0, 200, 255], dtype=torch.uint8),
    "bool.mask": torch.tensor([True, False, True]),
    "scalar": torch.tensor(3.25),
    "empty": torch.zeros(0, 4),
}

sharded = {
    "model.embed_tokens.weight": randn(8, 4).to(torch.bfloat16),
    "model.layers.0.weight": randn(4, 4).to(torch.bfloat16),
    "model.layers.1.weight": randn(4, 4).to(torch.bfloat16),
    "model.norm.weight": randn(4).to(torch.bfloat16),
}

DTYPE = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


def describe(tensors):
    out = {}
    for name, t in tensors.items():
        values = t.to(torch.float32).flatten().tolist()
        out[name] = {
            "dtype": DTYPE[t.dtype],
            "shape": list(t.shape),
            # JSON has no infinities; encode them as strings.
            "values": [v if v == v and abs(v) != float("inf") else str(v) for v in values],
        }
    return out


def main():
    for sub in ("single", "sharded"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
        os.makedirs(os.path.join(HERE, sub))
    save_file(single, os.path.join(HERE, "single", "model.safetensors"), metadata={"format": "pt", "note": "golden"})
    # A small shard size forces two shards and the index file, as save_pretrained writes them.
    save_torch_state_dict(sharded, os.path.join(HERE, "sharded"), max_shard_size=80)
    files = sorted(os.listdir(os.path.join(HERE, "sharded")))
    assert "model.safetensors.index.json" in files and len(files) >= 3, files
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        rounding_source = torch.cat([randn(64) * 100, special, torch.tensor([1.00390625, 1.01171875, -1.00390625, 3.3895314e38, 3.4028235e38])])
        rounding = {
            "source": [str(v) if abs(v) == float("inf") else v for v in rounding_source.tolist()],
            "bf16": [str(v) if abs(v) == float("inf") else v for v in rounding_source.to(torch.bfloat16).to(torch.float32).tolist()],
        }
        json.dump({"single": describe(single), "sharded": describe(sharded), "shardFiles": files, "bf16Rounding": rounding}, f, indent=1)
        f.write("\n")
    print("wrote", files)


if __name__ == "__main__":
    main()
