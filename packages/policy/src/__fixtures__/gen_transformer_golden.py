"""Reference logits for the transformer policy, computed with PyTorch in float64.

Writes transformer-golden.json: for each position kind, random weights (named as the
policy names them), a ragged left-padded batch and the logits at real positions.
Run: /usr/bin/python3 gen_transformer_golden.py
"""
import json
import math

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
V, D, H, L, DFF, MAXLEN = 8, 16, 2, 2, 24, 8
DH = D // H


def make_weights(rng, positions):
    w = {}
    n = lambda *shape, s=0.5: rng.normal(0, s, shape)
    w["tok_emb"] = n(V, D)
    if positions == "learned":
        w["pos_emb"] = n(MAXLEN, D)
    for i in range(L):
        p = f"blocks.{i}."
        w[p + "ln1.gamma"] = 1 + n(D, s=0.3)
        w[p + "ln1.beta"] = n(D, s=0.3)
        for z in "qkv":
            w[p + f"attn.w{z}"] = n(D, D)
            w[p + f"attn.b{z}"] = n(D, s=0.3)
        w[p + "attn.wo"] = n(D, D)
        w[p + "attn.bo"] = n(D, s=0.3)
        w[p + "ln2.gamma"] = 1 + n(D, s=0.3)
        w[p + "ln2.beta"] = n(D, s=0.3)
        w[p + "mlp.w1"] = n(D, DFF)
        w[p + "mlp.b1"] = n(DFF, s=0.3)
        w[p + "mlp.w2"] = n(DFF, D)
        w[p + "mlp.b2"] = n(D, s=0.3)
    w["ln_f.gamma"] = 1 + n(D, s=0.3)
    w["ln_f.beta"] = n(D, s=0.3)
    w["head.w"] = n(D, V)
    # Round through float32 so both sides start from identical weights.
    return {k: v.astype(np.float32) for k, v in w.items()}


def rotate_half(x):
    x1, x2 = x[..., : DH // 2], x[..., DH // 2 :]
    return torch.cat([-x2, x1], dim=-1)


def forward(w, tokens, mask, positions):
    t = {k: torch.tensor(v.astype(np.float64)) for k, v in w.items()}
    B, T = tokens.shape
    pos = (mask.long().cumsum(-1) - 1).clamp(min=0)  # HF-style position ids
    x = t["tok_emb"][tokens]
    if positions == "learned":
        x = x + t["pos_emb"][pos]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    allowed = causal[None, None] & mask.bool()[:, None, None, :]
    if positions == "rotary":
        inv = 1.0 / (10000 ** (torch.arange(0, DH, 2, dtype=torch.float64) / DH))
        ang = pos[..., None].double() * inv  # [B, T, DH/2]
        emb = torch.cat([ang, ang], -1)[:, None]  # [B, 1, T, DH]
        cos, sin = emb.cos(), emb.sin()
    for i in range(L):
        p = f"blocks.{i}."
        h = F.layer_norm(x, (D,), t[p + "ln1.gamma"], t[p + "ln1.beta"], eps=1e-5)
        q, k, v = (h @ t[p + f"attn.w{z}"] + t[p + f"attn.b{z}"] for z in "qkv")
        q, k, v = (z.view(B, T, H, DH).transpose(1, 2) for z in (q, k, v))
        if positions == "rotary":
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        s = (q @ k.transpose(-1, -2)) / math.sqrt(DH)
        s = s.masked_fill(~allowed, -1e9)
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + a @ t[p + "attn.wo"] + t[p + "attn.bo"]
        h = F.layer_norm(x, (D,), t[p + "ln2.gamma"], t[p + "ln2.beta"], eps=1e-5)
        x = x + F.gelu(h @ t[p + "mlp.w1"] + t[p + "mlp.b1"], approximate="tanh") @ t[p + "mlp.w2"] + t[p + "mlp.b2"]
    x = F.layer_norm(x, (D,), t["ln_f.gamma"], t["ln_f.beta"], eps=1e-5)
    return x @ t["head.w"]


rows = [[1, 3, 4, 5, 6, 7, 2], [1, 5, 3], [1, 7, 7, 4, 3]]
T = max(len(r) for r in rows)
tokens = torch.zeros(len(rows), T, dtype=torch.long)
mask = torch.zeros(len(rows), T)
for b, r in enumerate(rows):
    tokens[b, T - len(r) :] = torch.tensor(r)
    mask[b, T - len(r) :] = 1

out = {"config": {"dModel": D, "nLayers": L, "nHeads": H, "dFF": DFF, "maxSeqLen": MAXLEN}, "vocabSize": V,
       "tokens": tokens.tolist(), "mask": mask.tolist(), "cases": {}}
rng = np.random.default_rng(20240611)
for positions in ("learned", "rotary"):
    w = make_weights(rng, positions)
    logits = forward(w, tokens, mask, positions)
    out["cases"][positions] = {
        "weights": {k: {"shape": list(v.shape), "values": [float(x) for x in v.ravel()]} for k, v in w.items()},
        # Real positions only; padded positions are unspecified.
        "logits": [[logits[b, t].tolist() if mask[b, t] else None for t in range(T)] for b in range(len(rows))],
    }
with open("transformer-golden.json", "w") as f:
    json.dump(out, f)
print("wrote transformer-golden.json")
