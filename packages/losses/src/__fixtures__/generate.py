"""Golden losses, aggregations and KL estimators from an independent PyTorch reference
(verl's formulas): values and gradients with respect to the current log-probs.

Run once with python3 + torch: `python3 generate.py` writes golden.json beside it.
"""
import json

import torch

torch.manual_seed(11)
DT = torch.float64
R, T = 6, 8

# Ragged response masks; row 4 is fully masked.
mask = torch.zeros(R, T, dtype=DT)
spans = [(1, 7), (2, 3), (0, 8), (3, 2), (0, 0), (4, 4)]
for r, (s, n) in enumerate(spans):
    mask[r, s:s + n] = 1

old = -torch.rand(R, T, dtype=DT) * 3 - 0.05
delta = torch.randn(R, T, dtype=DT) * 0.25
# huge and tiny log-ratios (kept off the exact clamp boundaries)
delta[0, 2] = 21.0
delta[0, 4] = -20.5
delta[2, 1] = 19.5
delta[2, 5] = -25.0
delta[5, 4] = 1e-7
delta[5, 6] = -3e-8
delta[1, 3] = 12.0
logp = old + delta
# garbage outside the mask must not leak into anything
logp = torch.where(mask > 0, logp, torch.randn(R, T, dtype=DT) * 30)
old = torch.where(mask > 0, old, torch.randn(R, T, dtype=DT) * 30)

# per-row advantages of mixed sign, plus per-token variation on row 2 (REINFORCE++-style)
row_adv = torch.tensor([1.3, -0.7, 0.4, -1.9, 0.8, 0.0], dtype=DT)
adv = row_adv.unsqueeze(-1).repeat(1, T)
adv[2] = adv[2] + torch.linspace(-1, 1, T, dtype=DT)
adv = adv * mask
adv[2, 1] = -0.6  # huge ratio with a negative advantage: dual-clip bound
adv[0, 4] = -0.9  # tiny ratio with a negative advantage: low clip


def masked_mean(x, m):
    return (x * m).sum() / (m.sum() + 1e-8)


def ratio_metrics(lr, m):
    ratio = torch.exp(lr)
    k3 = torch.exp(-lr) + lr - 1
    return {
        "approx_kl": masked_mean(k3, m).item(),
        "ratio/mean": masked_mean(ratio, m).item(),
        "ratio/max": (ratio * m).max().item(),
    }


def ppo_clip(lp, clip_low=0.2, clip_high=0.2, dual=3.0):
    lr = torch.clamp(lp - old, -20, 20)
    ratio = torch.exp(lr)
    pg1 = -adv * ratio
    pg2 = -adv * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    c1 = torch.maximum(pg1, pg2)
    loss = c1
    metrics = ratio_metrics(lr.detach(), mask)
    metrics["clip/frac_high"] = masked_mean(((adv > 0) & (ratio > 1 + clip_high)).to(DT), mask).item()
    metrics["clip/frac_low"] = masked_mean(((adv < 0) & (ratio < 1 - clip_low)).to(DT), mask).item()
    if dual is not None:
        pg3 = -adv * dual
        c2 = torch.minimum(pg3, c1)
        loss = torch.where(adv < 0, c2, c1)
        metrics["clip/frac_dual"] = masked_mean(((adv < 0) & (c1 > pg3)).to(DT), mask).item()
    return loss * mask, metrics


def reinforce(lp):
    lr = torch.clamp(lp - old, -20, 20).detach()
    return -adv * lp * mask, ratio_metrics(lr, mask)


def gspo(lp, clip_low=3e-4, clip_high=4e-4):
    nkl = lp - old
    lengths = mask.sum(-1).clamp(min=1)
    seq = (nkl * mask).sum(-1) / lengths
    log_s = lp - lp.detach() + seq.detach().unsqueeze(-1)
    log_s = torch.clamp(log_s, max=10.0)
    s = torch.exp(log_s)
    pg1 = -adv * s
    pg2 = -adv * torch.clamp(s, 1 - clip_low, 1 + clip_high)
    loss = torch.maximum(pg1, pg2)
    sd = s.detach()
    metrics = ratio_metrics(torch.clamp(nkl, -20, 20).detach(), mask)
    metrics["clip/frac_high"] = masked_mean(((adv > 0) & (sd > 1 + clip_high)).to(DT), mask).item()
    metrics["clip/frac_low"] = masked_mean(((adv < 0) & (sd < 1 - clip_low)).to(DT), mask).item()
    metrics["seq_ratio/mean"] = masked_mean(sd, mask).item()
    return loss * mask, metrics


def cispo(lp, clip_low=1.0, clip_high=0.28):
    lr = torch.clamp(lp - old, -20, 20)
    ratio = torch.exp(lr)
    w = torch.clamp(ratio, 1 - clip_low, 1 + clip_high).detach()
    loss = -w * adv * lp
    rd = ratio.detach()
    metrics = ratio_metrics(lr.detach(), mask)
    metrics["clip/frac_high"] = masked_mean((rd > 1 + clip_high).to(DT), mask).item()
    metrics["clip/frac_low"] = masked_mean((rd < 1 - clip_low).to(DT), mask).item()
    return loss * mask, metrics


def sapo(lp, tau_pos=1.0, tau_neg=1.05):
    # arXiv:2511.20347 eq. (5)-(6): f(r) = (4/tau) sigmoid(tau (r - 1)), tau by the sign of A
    lr = torch.clamp(lp - old, -20, 20)
    ratio = torch.exp(lr)
    tau = torch.where(adv > 0, torch.full_like(adv, tau_pos), torch.full_like(adv, tau_neg))
    gate = torch.sigmoid(tau * (ratio - 1)) * 4 / tau
    loss = -gate * adv
    metrics = ratio_metrics(lr.detach(), mask)
    metrics["gate/mean"] = masked_mean(gate.detach(), mask).item()
    metrics["gate/frac_positive"] = masked_mean((adv > 0).to(DT), mask).item()
    return loss * mask, metrics


def gmpo(lp, clip_low=0.4, clip_high=0.4):
    # arXiv:2507.20673: geometric mean of sign-aware clipped token ratios, one loss per sequence
    lr = lp - old
    sgn = torch.sign(adv)
    lr_c = torch.clamp(lr, -clip_low, clip_high)
    lr_min = sgn * torch.minimum(sgn * lr, sgn * lr_c)
    n = mask.sum(-1, keepdim=True) + 1e-8
    seq_ratio = torch.exp((lr_min * mask).sum(-1, keepdim=True) / n)
    seq_adv = (adv * mask).sum(-1, keepdim=True) / n
    seq_loss = -seq_adv * seq_ratio
    clipped = lr != lr_c
    metrics = ratio_metrics(torch.clamp(lr, -20, 20).detach(), mask)
    metrics["clip/frac_high"] = masked_mean((clipped & (adv > 0)).to(DT), mask).item()
    metrics["clip/frac_low"] = masked_mean((clipped & (adv < 0)).to(DT), mask).item()
    metrics["seq_ratio/mean"] = masked_mean(seq_ratio.detach().expand_as(mask), mask).item()
    return seq_loss * mask, metrics


LOSSES = [
    ("ppo-clip", {}, lambda lp: ppo_clip(lp)),
    ("ppo-clip", {"clipHigh": 0.28, "dualClip": False}, lambda lp: ppo_clip(lp, 0.2, 0.28, None)),
    ("ppo-clip", {"clipLow": 0.1, "clipHigh": 0.3, "dualClip": 5}, lambda lp: ppo_clip(lp, 0.1, 0.3, 5.0)),
    ("reinforce", {}, lambda lp: reinforce(lp)),
    ("gspo", {}, lambda lp: gspo(lp)),
    ("gspo", {"clipLow": 0.2, "clipHigh": 0.3}, lambda lp: gspo(lp, 0.2, 0.3)),
    ("cispo", {}, lambda lp: cispo(lp)),
    ("cispo", {"clipLow": 0.2, "clipHigh": 0.2}, lambda lp: cispo(lp, 0.2, 0.2)),
    ("sapo", {}, lambda lp: sapo(lp)),
    ("sapo", {"tauPos": 0.5, "tauNeg": 2.0}, lambda lp: sapo(lp, 0.5, 2.0)),
    ("gmpo", {}, lambda lp: gmpo(lp)),
    ("gmpo", {"clipLow": 0.1, "clipHigh": 0.3}, lambda lp: gmpo(lp, 0.1, 0.3)),
]

losses = []
for lid, opts, fn in LOSSES:
    lp = logp.clone().requires_grad_(True)
    tok, metrics = fn(lp)
    (g,) = torch.autograd.grad(tok.sum(), lp)
    losses.append({"id": lid, "options": opts, "tokenLoss": tok.detach().flatten().tolist(),
                   "grad": g.flatten().tolist(), "metrics": metrics})

# Aggregation: value and gradient w.r.t. the token loss, global sizes from the context.
token_loss = torch.randn(R, T, dtype=DT)
# Sequences are the rows with response tokens (verl: token_counts > 0): row 4 does not count.
context = {"totalTokens": float(mask.sum()), "totalSequences": int((mask.sum(-1) > 0).sum()), "maxResponseLength": 10}


def aggregate(L, mode):
    m = mask
    if mode == "token-mean":
        return (L * m).sum() / context["totalTokens"]
    if mode == "seq-mean-token-mean":
        return ((L * m).sum(-1) / (m.sum(-1) + 1e-8)).sum() / context["totalSequences"]
    if mode == "seq-mean-token-sum":
        return (L * m).sum() / context["totalSequences"]
    if mode == "seq-mean-token-sum-norm":
        return (L * m).sum() / (context["totalSequences"] * context["maxResponseLength"])
    raise ValueError(mode)


aggs = []
for mode in ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"]:
    L = token_loss.clone().requires_grad_(True)
    v = aggregate(L, mode)
    (g,) = torch.autograd.grad(v, L)
    aggs.append({"mode": mode, "value": v.item(), "grad": g.flatten().tolist()})

# KL estimators against a reference policy; the log-ratio is clamped to ±clamp.
ref = torch.where(mask > 0, old - torch.randn(R, T, dtype=DT) * 0.3, old)
ref[0, 2] = logp[0, 2] - 20.0  # huge
ref[2, 5] = logp[2, 5] + 15.0  # huge the other way
ref[5, 4] = logp[5, 4] - 1e-6  # tiny
ref[1, 3] = logp[1, 3] + 6.0  # d = -6: k3 = e^6 - 7 ≈ 396, beyond the value clamp


def kl(lp, est, clamp, value_clamp):
    d = torch.clamp(lp - ref, -clamp, clamp)  # log π − log π_ref
    if est == "k1":
        return d
    if est == "k2":
        return 0.5 * d * d
    if est == "abs":
        return d.abs()
    k3 = torch.exp(-d) + d - 1
    if value_clamp is not None:  # verl's low_var_kl clamps the value to [-10, 10]
        k3 = torch.clamp(k3, -value_clamp, value_clamp)
    if est == "k3":
        return k3
    if est == "k3+":
        k2 = 0.5 * d * d
        return k2 - k2.detach() + k3.detach()
    raise ValueError(est)


kls = []
for est in ["k1", "k2", "k3", "k3+", "abs"]:
    for clamp, value_clamp in [(10.0, 10.0), (30.0, 10.0), (10.0, None), (30.0, None), (20.0, 5.0)]:
        if value_clamp != 10.0 and est not in ("k3", "k3+"):
            continue
        lp = logp.clone().requires_grad_(True)
        v = kl(lp, est, clamp, value_clamp)
        (g,) = torch.autograd.grad((v * mask).sum(), lp)
        rewards = (-0.05 * v.detach() * mask)
        kls.append({"estimator": est, "clamp": clamp, "valueClamp": value_clamp if value_clamp is not None else False, "value": v.detach().flatten().tolist(),
                    "grad": g.flatten().tolist(), "tokenRewards": rewards.flatten().tolist()})

out = {
    "generator": "generate.py (PyTorch %s, float64)" % torch.__version__,
    "rows": R, "seqLen": T,
    "logp": logp.flatten().tolist(), "oldLogp": old.flatten().tolist(), "refLogp": ref.flatten().tolist(),
    "advantages": adv.flatten().tolist(), "mask": mask.flatten().tolist(),
    "losses": losses,
    "tokenLoss": token_loss.flatten().tolist(), "context": context, "aggregations": aggs,
    "kl": kls, "klRewardCoef": 0.05,
}
with open(__file__.replace("generate.py", "golden.json"), "w") as f:
    json.dump(out, f, indent=1)
print("wrote", len(losses), "losses", len(aggs), "aggregations", len(kls), "kl")
for l in losses:
    print(l["id"], l["options"], l["metrics"])
