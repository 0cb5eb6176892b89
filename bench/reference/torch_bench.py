"""PyTorch reference for `pnpm bench`: the same model and steps as @rftkit/policy.

Pre-norm causal transformer: token + learned position embeddings, fused QKV with bias,
GELU (tanh) MLP with dFF = 4·d, final LayerNorm, untied output head without bias,
LayerNorm eps 1e-5. Usage: python3 torch_bench.py <figure> '<json options>' → one JSON line.
Install torch with `apt-get install python3-torch` (Debian/Ubuntu) or `pip install torch`.
"""
import json
import math
import os
import re
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# 2 by default (the baseline); RFTKIT_TORCH_THREADS=1 gives the single-threaded
# figure, which on a loaded machine is often the faster one (OpenMP threads wait on each other).
torch.set_num_threads(int(os.environ.get('RFTKIT_TORCH_THREADS', '2')))
torch.manual_seed(0)
VOCAB = 3 + len('0123456789+-*/=() abcdefghijklmnopqrstuvwxyz')


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d)
        self.wo = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.w1 = nn.Linear(d, 4 * d)
        self.w2 = nn.Linear(4 * d, d)

    def attend(self, x, cache=None):
        B, T, d = x.shape
        H, dh = self.heads, d // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (t.view(B, T, H, dh).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if 'k' in cache:
                k = torch.cat([cache['k'], k], dim=2)
                v = torch.cat([cache['v'], v], dim=2)
            cache['k'], cache['v'] = k, v
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        Tk = k.shape[2]
        if T > 1:
            causal = torch.ones(T, Tk, dtype=torch.bool).tril(Tk - T)
            scores = scores.masked_fill(~causal, -1e9)
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, d)
        return x + self.wo(out)

    def forward(self, x, cache=None):
        x = self.attend(x, cache)
        return x + self.w2(F.gelu(self.w1(self.ln2(x)), approximate='tanh'))


class Model(nn.Module):
    def __init__(self, dModel, nLayers, nHeads, maxSeqLen=64, vocab=VOCAB, **_):
        super().__init__()
        self.tok = nn.Embedding(vocab, dModel)
        self.pos = nn.Embedding(maxSeqLen, dModel)
        self.blocks = nn.ModuleList(Block(dModel, nHeads) for _ in range(nLayers))
        self.ln_f = nn.LayerNorm(dModel, eps=1e-5)
        self.head = nn.Linear(dModel, vocab, bias=False)

    def forward(self, ids, start=0, caches=None):
        T = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(start, start + T))
        for i, b in enumerate(self.blocks):
            x = b(x, None if caches is None else caches[i])
        return self.head(self.ln_f(x))


def time_it(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def matmul(o):
    rows = []
    for c in o['cases']:
        a, b = torch.randn(c['a']), torch.randn(c['b'])
        ta = (lambda t: t.transpose(-1, -2)) if c['ta'] else (lambda t: t)
        tb = (lambda t: t.transpose(-1, -2)) if c['tb'] else (lambda t: t)
        s = time_it(lambda: torch.matmul(ta(a), tb(b)), o['reps'])
        rows.append({'label': c['label'], 'after': c['flops'] / s / 1e9})
    return {'unit': 'GFLOP/s', 'rows': rows}


def train(o):
    size, B, T = o['size'], o['batch'], o['seqLen']
    model = Model(**size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ids = (3 + (torch.arange(B * T) * 7) % 40).view(B, T)

    def step():
        logits = model(ids)
        logp = logits[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None])
        loss = -logp.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()

    s = time_it(step, o['reps'])
    return {'unit': 'samples/s', 'rows': [{'label': f"train d{size['dModel']} L{size['nLayers']}", 'after': B / s}]}


def shared_prefill(model, distinct, n):
    """Prefill of rows that repeat each of `distinct` prompts n times, as rftkit does it: the
    distinct prompts run forward once, then their caches and last logits are repeated."""
    caches = [{} for _ in model.blocks]
    logits = model(distinct, 0, caches)[:, -1]
    for c in caches:
        c['k'] = c['k'].repeat_interleave(n, dim=0)
        c['v'] = c['v'].repeat_interleave(n, dim=0)
    return logits.repeat_interleave(n, dim=0), caches


@torch.no_grad()
def decode(o):
    model = Model(**o['size'])
    P, n, L, N = o['prompts'], o['samples'], o['promptLen'], o['newTokens']
    B = P * n
    # P distinct prompts, each repeated for its n sample rows (rftkit's prompt ids).
    j = torch.arange(L)
    distinct = torch.stack([torch.where(j == 0, 1, 3 + (p * 7 + j * 5) % 40) for p in range(P)])
    nxt = torch.full((B, 1), 5)

    def prefill():
        return shared_prefill(model, distinct, n)

    s_pre = time_it(prefill, o['reps'])
    times = []
    for r in range(o['reps'] + 1):
        _, caches = prefill()
        t = time.perf_counter()
        for i in range(N):
            model(nxt, L + i, caches)[:, -1].softmax(-1)
        if r > 0:
            times.append(time.perf_counter() - t)
    return {'unit': 'tokens/s', 'rows': [
        {'label': f'prefill {P}x{n} len {L}', 'after': B * L / s_pre},
        {'label': f'decode {P}x{n} {N} tokens', 'after': B * N / statistics.median(times)},
    ]}


def rft(o):
    """GRPO's rollout and update phases at the shapes rftkit's run produced (o['shape']).

    Rollout: prefill each group's prompt once (caches repeated for its samples, as rftkit
    does), then decode `maxResponse` tokens with the KV cache and
    multinomial sampling at T=1 (behaviour log-probs kept). Update: old log-probs without
    gradient for the rows after the first mini-batch (the first mini-batch detaches its own
    forward, as rftkit's trainer and TRL do), then PPO-clip (dual-clip 3) token-mean forward/backward, global-norm clip 1
    and AdamW per mini-batch. Reward, advantage and AEPO's extra rollout are not modelled.
    """
    shape, cfg = o.get('shape'), o['trainer']
    if not shape:
        return {'unit': 'steps/s', 'rows': [], 'skipped': 'rftkit run reported no batch shape'}
    vocab = 3 + len('0123456789 >:+-*/()')
    model = Model(**o['size'], vocab=vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg['optimizer']['lr'], weight_decay=cfg['optimizer']['weightDecay'])
    B, T, R = int(shape['rows']), int(round(shape['seqLen'])), int(shape['maxResponse'])
    L = T - R
    gen = torch.Generator().manual_seed(0)
    # One prompt per group of samplesPerPrompt rows, prefilled once (as rftkit does).
    n = int(cfg['samplesPerPrompt'])
    distinct = torch.randint(3, vocab, (max(B // n, 1), L), generator=gen)
    prompts = distinct.repeat_interleave(n, dim=0)[:B]

    @torch.no_grad()
    def rollout():
        logits, caches = shared_prefill(model, distinct, n)
        out, logps = [], []
        for i in range(R):
            logp = logits.log_softmax(-1)
            tok = torch.multinomial(logp.exp(), 1, generator=gen)
            out.append(tok)
            logps.append(logp.gather(-1, tok))
            if i + 1 < R:
                logits = model(tok, L + i, caches)[:, -1]
        return torch.cat([prompts] + out, 1)

    ids = rollout()
    mask = torch.zeros(B, T - 1)
    mask[:, L - 1:] = 1
    adv = torch.randn(B, 1).expand(B, T - 1)

    def token_logp(m, x):
        return m(x)[:, :-1].log_softmax(-1).gather(-1, x[:, 1:, None])[..., 0]

    def update():
        mb, micro = cfg['miniBatchSamples'], cfg['microBatchSamples']
        with torch.no_grad():
            chunks = [token_logp(model, ids[i:min(i + micro, B)]) for i in range(min(mb, B), B, micro)]
            rest = torch.cat(chunks) if chunks else None
        for i in range(0, B, mb):
            sl = slice(i, i + mb)
            logp = token_logp(model, ids[sl])
            old = logp.detach() if i == 0 else rest[i - mb:i - mb + logp.shape[0]]
            ratio = (logp - old).exp()
            a = adv[sl]
            pg = torch.maximum(-a * ratio, -a * ratio.clamp(0.8, 1.2))
            pg = torch.where(a < 0, torch.minimum(pg, -a * 3), pg)
            loss = (pg * mask[sl]).sum() / mask[sl].sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg['optimizer']['gradClip'])
            opt.step()

    s_roll = time_it(rollout, o['reps'])
    s_upd = time_it(update, o['reps'])
    n = f"{cfg['promptsPerStep']}x{cfg['samplesPerPrompt']}"
    upd = f"old logp + {cfg['miniBatchSamples']}-row Adam steps"
    return {'unit': 'steps/s', 'shape': shape, 'rows': [
        {'label': 'GRPO step (rollout+reward+advantage+update)', 'after': 1 / (s_roll + s_upd), 'note': 'rollout + update only'},
        {'label': f'GRPO rollout phase {n}', 'after': 1 / s_roll},
        {'label': f'GRPO update phase ({upd})', 'after': 1 / s_upd},
    ]}


def blas_info():
    """Which BLAS this torch really runs on.

    `torch.__config__.show()` reports the build (`BLAS_INFO=generic` for Debian's
    python3-torch, which links the system libblas.so.3); the library actually loaded is
    whatever the libblas.so.3 alternative points to, so read it from this process's maps
    after a matmul. Debian's reference BLAS (package libblas3) reaches ~1 GFLOP/s;
    `apt-get install libopenblas0-pthread` switches the alternative to OpenBLAS.
    """
    config = [l.strip() for l in torch.__config__.show().splitlines() if 'BLAS' in l]
    build = next((m for l in config for m in [l.split('BLAS_INFO=')[1].split(',')[0]] if 'BLAS_INFO=' in l), None)
    a = torch.randn(512, 512)
    torch.mm(a, a)
    libs = set()
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ''
                if re.search(r'lib(open)?blas|libmkl|libblis|libatlas', path):
                    libs.add(path)
    except OSError:
        pass
    joined = ' '.join(sorted(libs))
    if build and build not in ('generic', ''):
        kind = build  # mkl, open, ... linked at build time
    elif 'openblas' in joined:
        kind = 'openblas'
    elif 'mkl' in joined:
        kind = 'mkl'
    elif 'blis' in joined:
        kind = 'blis'
    elif 'atlas' in joined:
        kind = 'atlas'
    elif '/blas/' in joined or 'libblas' in joined:
        kind = 'reference'
    else:
        kind = 'unknown'
    torch.mm(a, a)
    t = time.perf_counter()
    for _ in range(5):
        torch.mm(a, a)
    gflops = 5 * 2 * 512 ** 3 / (time.perf_counter() - t) / 1e9
    return {'blas': kind, 'blasLibraries': sorted(libs), 'blasBuild': f'BLAS_INFO={build}', 'mm512GFLOPs': round(gflops, 2)}


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'blas':
        print(json.dumps(blas_info()))
        sys.exit(0)
    figure, opts = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else '{}')
    t0 = time.perf_counter()
    result = globals()[figure](opts)
    result['wallSeconds'] = time.perf_counter() - t0
    result['peakRssMB'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result['torch'] = {'version': torch.__version__, 'threads': torch.get_num_threads(), **blas_info()}
    print(json.dumps(result))
