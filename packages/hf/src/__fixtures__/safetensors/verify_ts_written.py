"""Checks that files written by the TS safetensors writer load in Python `safetensors`.

Runs write_from_ts.ts (Node, via npx tsx), then loads f32.safetensors and bf16.safetensors with
safetensors.safe_open and compares them with the values the writer was given: float32 exactly,
bfloat16 equal to torch's own float32 -> bfloat16 rounding of those values.
Run: python3 packages/hf/src/__fixtures__/safetensors/verify_ts_written.py
"""
import base64
import json
import os
import subprocess
import tempfile

import torch
from safetensors import safe_open

HERE = os.path.dirname(os.path.abspath(__file__))

with tempfile.TemporaryDirectory() as out:
    subprocess.run(["npx", "tsx", os.path.join(HERE, "write_from_ts.ts"), out], check=True, cwd=HERE)
    given = json.load(open(os.path.join(out, "values.json")))
    for kind, dtype in (("f32", torch.float32), ("bf16", torch.bfloat16)):
        with safe_open(os.path.join(out, f"{kind}.safetensors"), framework="pt") as f:
            assert sorted(f.keys()) == sorted(t["name"] for t in given), f.keys()
            if kind == "f32":
                assert f.metadata() == {"format": "pt", "writer": "rftkit"}, f.metadata()
            for t in given:
                got = f.get_tensor(t["name"])
                raw = bytearray(base64.b64decode(t["f32Base64"]))
                want = torch.frombuffer(raw, dtype=torch.float32).reshape(t["shape"]).to(dtype) if raw else torch.zeros(t["shape"], dtype=dtype)
                assert got.dtype == dtype and list(got.shape) == t["shape"], (t["name"], got.dtype, got.shape)
                assert torch.equal(got.view(torch.int16 if kind == "bf16" else torch.int32),
                                   want.view(torch.int16 if kind == "bf16" else torch.int32)), t["name"]
        print(f"{kind}: {len(given)} tensors load in Python safetensors, bit-identical")
