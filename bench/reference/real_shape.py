"""PyTorch + transformers reference for `pnpm bench --real`: the figures of bench/src/real-shape.mjs
on a random LlamaForCausalLM of SmolLM2-135M's shape, same thread count.

Usage: python3 real_shape.py <memory|throughput|grpo> '<json options>' → one JSON line.
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


LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']

QWEN25_05B = dict(
    hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
    num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rms_norm_eps=1e-6,
    rope_theta=1000000.0, tie_word_embeddings=True, hidden_act='silu', bos_token_id=151643, eos_token_id=151643,
)


def model(shape='smollm2-135m'):
    if shape == 'qwen2.5-0.5b':
        cfg = transformers.Qwen2Config(**QWEN25_05B)
        cfg._attn_implementation = 'eager'
        return transformers.Qwen2ForCausalLM(cfg).float()
    cfg = transformers.LlamaConfig(**CONFIG)
    cfg._attn_implementation = 'eager'
    return transformers.LlamaForCausalLM(cfg).float()


def lora(m):
    import peft
    return peft.get_peft_model(m, peft.LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=LORA_TARGETS))


def tokens(rows, seq_len, vocab=CONFIG['vocab_size']):
    i = torch.arange(rows * seq_len)
    return (1 + (i * 7919 + 13) % (vocab - 1)).view(rows, seq_len)


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
    shape = o.get('shape', 'smollm2-135m')
    m = model(shape)
    if o.get('lora'):
        m = lora(m)
    trainable = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=1e-5)
    ids = tokens(o['rows'], o['seqLen'], (QWEN25_05B if shape == 'qwen2.5-0.5b' else CONFIG)['vocab_size'])
    t = time.perf_counter()
    train_step(m, opt, ids)
    return {'figure': 'memory', 'shape': shape, 'variant': 'transformers' + (' + peft LoRA r=16' if o.get('lora') else ''),
            'rows': o['rows'], 'seqLen': o['seqLen'], 'params': sum(p.numel() for p in trainable), 'stepSeconds': time.perf_counter() - t}


def throughput(o):
    m = model()
    N = o['newTokens']
    rows = []
    with torch.no_grad():
        for B in o['batches']:
            P = o['promptLen']
            prompt = tokens(B, P)

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
    ids = tokens(o['trainRows'], o['trainSeqLen'])
    n = o['trainRows'] * o['trainSeqLen']
    for kind in ['full fine-tune', 'LoRA r=16']:
        if kind != 'full fine-tune':
            m = lora(model())
        opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-5)
        train_step(m, opt, ids)
        med, lo, hi = timed(lambda: train_step(m, opt, ids), o['trainReps'])
        rows.append({'label': f"train {o['trainRows']}x{o['trainSeqLen']} ({kind}, Adam)", 'after': n / med, 'range': [n / hi, n / lo]})
    return {'figure': 'throughput', 'rows': rows}


def grpo(o):
    """bench/src/real-shape.mjs's grpo figure: sample, score, one clipped-ratio update in micro-batches (the second step)."""
    m = model()
    opt = torch.optim.Adam(m.parameters(), lr=1e-6)
    P, G, L, N, mb = o['prompts'], o['group'], o['promptLen'], o['newTokens'], o['microRows']
    B = P * G
    prompt = tokens(P, L).repeat_interleave(G, 0)

    def step():
        t0 = time.perf_counter()
        with torch.no_grad():
            full = m.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                              max_new_tokens=N, min_new_tokens=N, pad_token_id=0)
        t1 = time.perf_counter()
        g = torch.Generator().manual_seed(7)
        rewards = (torch.rand(B, generator=g) < 0.5).float().view(P, G)
        adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-6)).view(B, 1)

        def logp(ids):
            return m(ids).logits[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]
        with torch.no_grad():
            old = [logp(full[r:r + mb]) for r in range(0, B, mb)]
        t2 = time.perf_counter()
        opt.zero_grad()
        for i, r in enumerate(range(0, B, mb)):
            ratio = (logp(full[r:r + mb]) - old[i]).exp()[:, L - 1:]
            a = adv[r:r + mb]
            obj = torch.minimum(ratio * a, ratio.clamp(0.8, 1.28) * a)
            (-obj.sum() / (B * N)).backward()
        opt.step()
        t3 = time.perf_counter()
        return t0, t1, t2, t3
    # A warm-up step (first autograd pass, Adam's state), then the measured one; at full
    # size (o["warmup"] false) first-pass costs are a negligible share of one step.
    if o.get("warmup", True):
        step()
    t0, t1, t2, t3 = step()
    return {'figure': 'grpo', 'prompts': P, 'group': G, 'promptLen': L, 'newTokens': N, 'microRows': mb,
            'rolloutSeconds': t1 - t0, 'scoreSeconds': t2 - t1, 'updateSeconds': t3 - t2, 'stepSeconds': t3 - t0}


if __name__ == '__main__':
    figure, opts = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else '{}')
    t0 = time.perf_counter()
    result = {'memory': memory, 'throughput': throughput, 'grpo': grpo}[figure](opts)
    result['torch'] = {'version': torch.__version__, 'transformers': transformers.__version__, 'threads': torch.get_num_threads()}
    result['wallSeconds'] = time.perf_counter() - t0
    result['peakRssMB'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
