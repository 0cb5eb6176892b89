"""PyTorch + transformers reference for `pnpm bench --real`: the figures of bench/src/real-shape.mjs
on a random LlamaForCausalLM of SmolLM2-135M's shape, same thread count.

Usage: python3 real_shape.py <memory|throughput> '<json options>' → one JSON line.
RFTKIT_TORCH_THREADS sets torch's threads (default 2).
"""
import json
import os
import resource
import statistics
import sys
import time

import torch
import transformers

torch.set_num_threads(int(os.environ.get('RFTKIT_TORCH_THREADS', '2')))
torch.manual_seed(0)

CONFIG = dict(
    hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
    num_key_value_heads=3, head_dim=64, vocab_size=49152, max_position_embeddings=8192,
    rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True, hidden_act='silu',
    bos_token_id=0, eos_token_id=0,
)


def model():
    cfg = transformers.LlamaConfig(**CONFIG)
    cfg._attn_implementation = 'eager'
    return transformers.LlamaForCausalLM(cfg).float()


def tokens(rows, seq_len):
    i = torch.arange(rows * seq_len)
    return (1 + (i * 7919 + 13) % (CONFIG['vocab_size'] - 1)).view(rows, seq_len)


def train_step(m, opt, ids):
    logits = m(ids).logits[:, :-1]
    logp = logits.log_softmax(-1).gather(-1, ids[:, 1:, None])
    loss = -logp.mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def timed(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), min(ts), max(ts)


def memory(o):
    m = model()
    opt = torch.optim.Adam(m.parameters(), lr=1e-5)
    ids = tokens(o['rows'], o['seqLen'])
    t = time.perf_counter()
    train_step(m, opt, ids)
    return {'figure': 'memory', 'variant': 'transformers', 'rows': o['rows'], 'seqLen': o['seqLen'],
            'params': sum(p.numel() for p in m.parameters()), 'stepSeconds': time.perf_counter() - t}


def throughput(o):
    m = model()
    B, P, N = o['batch'], o['promptLen'], o['newTokens']
    prompt = tokens(B, P)
    rows = []
    with torch.no_grad():
        def prefill():
            out = m(prompt, use_cache=True)
            out.logits[:, -1].sum().item()
        prefill()
        med, lo, hi = timed(prefill, o['reps'])
        rows.append({'label': f'prefill {B}x{P}', 'after': B * P / med, 'range': [B * P / hi, B * P / lo]})
        nxt = torch.full((B, 1), 5)

        def decode():
            out = m(prompt, use_cache=True)
            cache = out.past_key_values
            t = time.perf_counter()
            for _ in range(N):
                out = m(nxt, past_key_values=cache, use_cache=True)
                cache = out.past_key_values
                out.logits.sum().item()
            return time.perf_counter() - t
        decode()
        ts = [decode() for _ in range(o['reps'])]
        rows.append({'label': f'decode {B} rows x {N} tokens', 'after': B * N / statistics.median(ts), 'range': [B * N / max(ts), B * N / min(ts)]})
    opt = torch.optim.Adam(m.parameters(), lr=1e-5)
    ids = tokens(o['trainRows'], o['trainSeqLen'])
    train_step(m, opt, ids)
    med, lo, hi = timed(lambda: train_step(m, opt, ids), o['trainReps'])
    n = o['trainRows'] * o['trainSeqLen']
    rows.append({'label': f"train {o['trainRows']}x{o['trainSeqLen']} (full fine-tune, Adam)", 'after': n / med, 'range': [n / hi, n / lo]})
    return {'figure': 'throughput', 'rows': rows}


if __name__ == '__main__':
    figure, opts = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else '{}')
    t0 = time.perf_counter()
    result = {'memory': memory, 'throughput': throughput}[figure](opts)
    result['torch'] = {'version': torch.__version__, 'transformers': transformers.__version__, 'threads': torch.get_num_threads()}
    result['wallSeconds'] = time.perf_counter() - t0
    result['peakRssMB'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
