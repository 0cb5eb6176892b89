"""Golden advantages from an independent PyTorch reference (verl's formulas).

Run once with python3 + torch: `python3 generate.py` writes golden.json beside it.
"""
import json
from collections import defaultdict

import torch

torch.manual_seed(7)
DT = torch.float64


def make_case(name, group_sizes, seq_len, reward_kind, token_rewards, empty_rows=()):
    rows = sum(group_sizes)
    group_ids = []
    for g, n in enumerate(group_sizes):
        group_ids += [g * 10 + 3] * n  # non-contiguous ids
    # shuffle rows so groups are interleaved
    perm = torch.randperm(rows)
    group_ids = [group_ids[i] for i in perm.tolist()]
    mask = torch.zeros(rows, seq_len, dtype=DT)
    for r in range(rows):
        if r in empty_rows:
            continue
        start = int(torch.randint(1, seq_len // 2, (1,)))
        length = int(torch.randint(1, seq_len - start + 1, (1,)))
        mask[r, start:start + length] = 1
    scores = []
    for r in range(rows):
        if reward_kind == "binary":
            scores.append(float(torch.randint(0, 2, (1,))))
        else:
            scores.append(round(float(torch.randn(1)) * 2, 4))
    # force one group to be all-equal
    first = group_ids[0]
    for r in range(rows):
        if group_ids[r] == first:
            scores[r] = 0.5
    # size-1 groups get a nonzero reward so the singleton rule is visible
    for r in range(rows):
        if group_ids.count(group_ids[r]) == 1 and scores[r] == 0:
            scores[r] = 1.0
    tr = None
    if token_rewards:
        tr = (torch.randn(rows, seq_len, dtype=DT) * 0.1).round(decimals=4)
    return dict(name=name, rows=rows, seqLen=seq_len, scores=scores, groupIds=group_ids,
                responseMask=mask.flatten().tolist(), tokenRewards=None if tr is None else tr.flatten().tolist())


def tensors(case):
    R, T = case["rows"], case["seqLen"]
    mask = torch.tensor(case["responseMask"], dtype=DT).reshape(R, T)
    scores = torch.tensor(case["scores"], dtype=DT)
    # outcome reward = score + masked token rewards (verl: token_level_rewards.sum(-1))
    tr = torch.zeros(R, T, dtype=DT) if case["tokenRewards"] is None else torch.tensor(case["tokenRewards"], dtype=DT).reshape(R, T)
    total = scores + (tr * mask).sum(-1)
    return mask, scores, tr, total, case["groupIds"]


def group_stats(total, index, unbiased=True):
    id2score = defaultdict(list)
    for i in range(len(index)):
        id2score[index[i]].append(total[i])
    id2mean, id2std = {}, {}
    for idx, vals in id2score.items():
        if len(vals) == 1:
            id2mean[idx] = torch.tensor(0.0, dtype=DT)
            id2std[idx] = torch.tensor(1.0, dtype=DT)
        else:
            t = torch.stack(vals)
            id2mean[idx] = t.mean()
            id2std[idx] = t.std(unbiased=unbiased)
    return id2score, id2mean, id2std


def grpo(case, eps=1e-6, unbiased=True, norm=True, singleton="reward"):
    mask, _, _, total, index = tensors(case)
    id2score, id2mean, id2std = group_stats(total, index, unbiased)
    out = total.clone()
    for i in range(len(index)):
        if singleton == "zero" and len(id2score[index[i]]) == 1:
            out[i] = 0
        elif norm:
            out[i] = (total[i] - id2mean[index[i]]) / (id2std[index[i]] + eps)
        else:
            out[i] = total[i] - id2mean[index[i]]
    return out.unsqueeze(-1) * mask


def batch_std(case, eps=1e-6):
    mask, _, _, total, index = tensors(case)
    _, id2mean, _ = group_stats(total, index)
    sb = total.std(unbiased=True)
    out = torch.stack([(total[i] - id2mean[index[i]]) / (sb + eps) for i in range(len(index))])
    return out.unsqueeze(-1) * mask


def rloo(case):
    # verl's vectorised RLOO
    mask, _, _, total, index = tensors(case)
    ids = sorted(set(index))
    inv = torch.tensor([ids.index(g) for g in index])
    c = torch.bincount(inv)[inv].to(DT)
    sums = torch.bincount(inv, weights=total)[inv]
    adv = ((c * total - sums) / (c - 1).clamp_min(1)) * (c > 1)
    # verl's loop version gives singletons r - 0 = r
    adv = torch.where(c > 1, adv, total)
    return adv.unsqueeze(-1) * mask


def masked_whiten(x, mask):
    n = mask.sum()
    mean = (x * mask).sum() / (n + 1e-8)
    var = ((x - mean) ** 2 * mask).sum() / (n + 1e-8)
    if n > 1:
        var = var * n / (n - 1)
    return (x - mean) * torch.rsqrt(var + 1e-8)


def reinforce_pp(case, gamma):
    mask, scores, tr, _, _ = tensors(case)
    R, T = mask.shape
    rewards = tr * mask
    for r in range(R):
        nz = mask[r].nonzero()
        if len(nz):
            rewards[r, int(nz[-1])] += scores[r]
    returns = torch.zeros_like(rewards)
    running = torch.zeros(R, dtype=DT)
    for t in reversed(range(T)):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
        running = running * mask[:, t]
    return masked_whiten(returns, mask) * mask


def reinforce_pp_baseline(case):
    mask, _, _, total, index = tensors(case)
    _, id2mean, _ = group_stats(total, index)
    out = torch.stack([total[i] - id2mean[index[i]] for i in range(len(index))])
    out = out.unsqueeze(-1) * mask
    return masked_whiten(out, mask) * mask


def gpg(case, f_norm=1.0):
    mask, _, _, total, index = tensors(case)
    _, id2mean, _ = group_stats(total, index)
    alpha = len(index) / torch.count_nonzero(total).clamp(min=1)
    out = torch.stack([alpha * (total[i] - id2mean[index[i]]) / f_norm for i in range(len(index))])
    return out.unsqueeze(-1) * mask


def opo(case):
    mask, _, _, total, index = tensors(case)
    lengths = mask.sum(-1)
    id2s, id2l = defaultdict(list), defaultdict(list)
    for i in range(len(index)):
        id2s[index[i]].append(total[i])
        id2l[index[i]].append(lengths[i])
    bsl = {}
    for idx in id2s:
        if len(id2s[idx]) == 1:
            bsl[idx] = torch.tensor(0.0, dtype=DT)
        else:
            s, l = torch.stack(id2s[idx]), torch.stack(id2l[idx])
            bsl[idx] = (l * s).sum() / l.sum() if l.sum() > 0 else s.mean()
    out = torch.stack([total[i] - bsl[index[i]] for i in range(len(index))])
    return out.unsqueeze(-1) * mask


def pass_at_k(case, norm=True, eps=1e-6):
    mask, _, _, total, index = tensors(case)
    adv = torch.zeros_like(total)
    rows_of = defaultdict(list)
    for i in range(len(index)):
        rows_of[index[i]].append(i)
    for idx, rows in rows_of.items():
        if len(rows) < 2:
            continue
        vals = total[rows]
        # stable descending sort: ties keep the first row
        order = sorted(range(len(rows)), key=lambda k: (-float(vals[k]), k))
        a = vals[order[0]] - vals[order[1]]
        if norm:
            a = a / (vals.std(unbiased=True) + eps)
        adv[rows[order[0]]] = a
    return adv.unsqueeze(-1) * mask


def knobs(case, mean, std, loo, eps=1e-6, unbiased=True):
    mask, _, _, total, index = tensors(case)
    R = len(index)
    out = torch.zeros(R, dtype=DT)
    rows_of = defaultdict(list)
    for i in range(R):
        rows_of[index[i]].append(i)
    for i in range(R):
        g = total[rows_of[index[i]]]
        n = len(g)
        if mean == "group":
            if n == 1:
                b = 0.0
            else:
                b = (g.sum() - total[i]) / (n - 1) if loo else g.mean()
        elif mean == "batch":
            b = ((total.sum() - total[i]) / (R - 1)) if loo else total.mean()
        else:
            b = 0.0
        a = total[i] - b
        if std == "group":
            a = a / ((g.std(unbiased=unbiased) if n > 1 else 1.0) + eps)
        elif std == "batch":
            a = a / (total.std(unbiased=unbiased) + eps)
        out[i] = a
    return out.unsqueeze(-1) * mask


def zero_std_frac(case):
    _, _, _, total, index = tensors(case)
    rows_of = defaultdict(list)
    for i in range(len(index)):
        rows_of[index[i]].append(float(total[i]))
    return sum(1 for v in rows_of.values() if len(set(v)) == 1) / len(rows_of)


ESTIMATORS = [
    ("grpo", {}, lambda c: grpo(c)),
    ("grpo", {"biasedStd": True}, lambda c: grpo(c, unbiased=False)),
    ("grpo", {"singletonGroups": "zero"}, lambda c: grpo(c, singleton="zero")),
    ("grpo", {"eps": 0.1}, lambda c: grpo(c, eps=0.1)),
    ("dr-grpo", {}, lambda c: grpo(c, norm=False)),
    ("batch-std", {}, lambda c: batch_std(c)),
    ("rloo", {}, lambda c: rloo(c)),
    ("reinforce++", {}, lambda c: reinforce_pp(c, 1.0)),
    ("reinforce++", {"gamma": 0.9}, lambda c: reinforce_pp(c, 0.9)),
    ("reinforce++-baseline", {}, lambda c: reinforce_pp_baseline(c)),
    ("gpg", {}, lambda c: gpg(c)),
    ("gpg", {"fNorm": 2.5}, lambda c: gpg(c, 2.5)),
    ("opo", {}, lambda c: opo(c)),
    ("pass-at-k", {}, lambda c: pass_at_k(c)),
    ("pass-at-k", {"normalize": False}, lambda c: pass_at_k(c, norm=False)),
    ("normalized", {}, lambda c: knobs(c, "group", "group", False)),
    ("normalized", {"mean": "batch", "std": "batch", "leaveOneOut": True}, lambda c: knobs(c, "batch", "batch", True)),
    ("normalized", {"mean": "batch", "std": "none"}, lambda c: knobs(c, "batch", "none", False)),
    ("normalized", {"mean": "none", "std": "batch"}, lambda c: knobs(c, "none", "batch", False)),
    ("normalized", {"mean": "group", "std": "group", "leaveOneOut": True, "biasedStd": True},
     lambda c: knobs(c, "group", "group", True, unbiased=False)),
]

cases = [
    make_case("binary-rewards", [4, 3, 1, 2, 5], 9, "binary", False, empty_rows=(2,)),
    make_case("real-rewards-token-rewards", [3, 1, 4, 4], 7, "real", True, empty_rows=(5,)),
]
for case in cases:
    case["expected"] = [
        {"id": eid, "options": opts, "advantages": fn(case).flatten().tolist()} for eid, opts, fn in ESTIMATORS
    ]
    case["zeroStdFrac"] = zero_std_frac(case)

with open(__file__.replace("generate.py", "golden.json"), "w") as f:
    json.dump({"generator": "generate.py (PyTorch %s, float64)" % torch.__version__, "cases": cases}, f, indent=1)
print("wrote", len(cases), "cases")
