// `pnpm bench [--quick] [--backends cpu,wasm] [--no-torch] [--real]`: rftkit figures on each backend
// next to the same figures in PyTorch (bench/reference), ratios printed per figure.
// `--real` runs only the real-shape section (bench/src/real-shape.mjs, slow: minutes per figure);
// `--print-real <results file>` prints its tables again.
// Each figure runs in its own process, so its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RFT_TRAINER } from './src/rft-setup.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noTorch = args.includes('--no-torch');
const backendsArg = args.find((a) => a.startsWith('--backends='))?.split('=')[1];
const python = process.env.RFTKIT_BENCH_PYTHON ?? '/usr/bin/python3';
// PyTorch runs once per thread count: 2 is the issue's baseline; 1 is reported beside it
// because on a shared 2-core machine torch's OpenMP threads can be many times slower than one.
const torchThreads = (args.find((a) => a.startsWith('--torch-threads='))?.split('=')[1] ?? '2,1').split(',').map(Number);

// The figures import the packages' built dist: build them (turbo caches, so this is quick
// when nothing changed). `--no-build` skips it.
if (!args.includes('--no-build')) {
  process.stderr.write('[bench] building the packages the bench imports...\n');
  const r = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=rftkit-bench...', '--output-logs=errors-only'], {
    cwd: join(here, '..'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) {
    process.stderr.write('[bench] build failed; run `pnpm build` to see why\n');
    process.exit(1);
  }
}

function hasTensorflow() {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    const r = spawnSync(process.execPath, ['-e', `import('${pkg}').then(()=>process.exit(0),()=>process.exit(1))`], { cwd: here });
    if (r.status === 0) return true;
  }
  return false;
}
const backends = backendsArg ? backendsArg.split(',') : ['cpu', 'wasm', ...(hasTensorflow() ? ['tensorflow'] : [])];

function torchAvailable() {
  if (noTorch) return 'disabled with --no-torch';
  const r = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${python} cannot import torch (apt-get install python3-torch, or set RFTKIT_BENCH_PYTHON)`;
}
const torchSkip = torchAvailable();

// Which BLAS the reference torch really runs on. Debian's python3-torch links the system
// libblas.so.3: with only the reference BLAS (libblas3) installed its matmuls run at
// ~1 GFLOP/s and every ratio below would flatter rftkit by an order of magnitude.
let torchBlas = null;
if (!torchSkip) {
  const r = spawnSync(python, [join(here, 'reference/torch_bench.py'), 'blas'], { encoding: 'utf8' });
  try {
    torchBlas = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    torchBlas = { blas: 'unknown', error: (r.stderr || '').trim().split('\n').pop() };
  }
  process.stderr.write(`[bench] PyTorch BLAS: ${torchBlas.blas} (${(torchBlas.blasLibraries ?? []).join(', ') || 'no BLAS library mapped'}; 512² matmul ${torchBlas.mm512GFLOPs ?? '?'} GFLOP/s)\n`);
  if (torchBlas.blas === 'reference' || torchBlas.blas === 'unknown') {
    const bar = '!'.repeat(78);
    process.stderr.write(
      `${bar}\n[bench] WARNING: PyTorch runs on the ${torchBlas.blas} BLAS, not OpenBLAS/MKL. Its figures are\n` +
        '[bench] meaningless as a baseline (tens of times too slow). Install OpenBLAS:\n' +
        '[bench]   apt-get install libopenblas0-pthread   (switches libblas.so.3 to OpenBLAS)\n' +
        `[bench] or point RFTKIT_BENCH_PYTHON at a pip-installed torch (MKL).\n${bar}\n`,
    );
  }
}

// The real-shape section: random SmolLM2-135M- and Qwen2.5-0.5B-shaped models (see
// bench/src/real-shape.mjs) on each backend asked for (default: wasm, and tensorflow where its
// binding loads), against PyTorch + transformers (+ peft) (bench/reference/real_shape.py) when
// it imports. The results file is rewritten after every figure, so a stopped run keeps them.
if (args.includes('--real')) {
  // tfjs-node resolves from @rftkit/tensor (where selectBackend looks), not from bench/.
  const tensorflowLoads = () =>
    spawnSync(process.execPath, ['--input-type=module', '-e', "import('@rftkit/tensor').then((m) => m.selectBackend('tensorflow')).then(() => process.exit(0), () => process.exit(1))"], { cwd: here }).status === 0;
  const realBackends = backendsArg ? backendsArg.split(',') : ['wasm', ...(tensorflowLoads() ? ['tensorflow'] : [])];
  const tfSkip = (() => {
    if (noTorch) return 'disabled with --no-torch';
    const r = spawnSync(python, ['-c', 'import torch, transformers, peft'], { encoding: 'utf8' });
    return r.status === 0 ? null : `${python} cannot import torch, transformers and peft (pip install torch transformers peft)`;
  })();
  const memory = { rows: quick ? 1 : 2, seqLen: quick ? 64 : 256 };
  const speed = { batches: [16, 64], promptLen: quick ? 16 : 64, newTokens: quick ? 8 : 16, reps: quick ? 2 : 3, trainRows: quick ? 1 : 2, trainSeqLen: quick ? 64 : 128, trainReps: quick ? 2 : 3 };
  // The issue's GRPO step is 8 prompts × 8 samples × 128 new tokens (micro-batches of 2 rows keep
  // wasm's full fine-tune under its 4 GB heap; no warm-up step at that size); --quick runs a small one.
  const grpo = quick ? { prompts: 2, group: 4, promptLen: 16, newTokens: 16, microRows: 8 } : { prompts: 8, group: 8, promptLen: 32, newTokens: 128, microRows: 2, warmup: false };
  const memoryRuns = [
    ...['full', 'chunked', 'recompute'].map((variant) => ({ ...memory, variant })),
    { ...memory, variant: 'chunked', lora: true },
    { ...memory, variant: 'chunked', lora: true, shape: 'qwen2.5-0.5b' },
  ];
  const torchMemoryRuns = [memory, { ...memory, lora: true }, { ...memory, lora: true, shape: 'qwen2.5-0.5b' }];
  const out = { date: new Date().toISOString(), backends: realBackends, torchThreads, quick, rftkit: {}, pytorch: { memory: [] } };
  const file = join(here, 'results', `${out.date.slice(0, 10)}-real${quick ? '-quick' : ''}.json`);
  mkdirSync(join(here, 'results'), { recursive: true });
  const save = () => writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  const ours = (backend, figure, o) => runJson('nice', ['-n', '10', process.execPath, join(here, 'src/real-shape.mjs'), backend, figure, JSON.stringify(o)]);
  // PyTorch at each of --torch-threads' counts (default 2 and 1: on a 2-core VM its two
  // OpenMP threads are at times slower than one); the tables use the faster run per figure.
  const ref = (figure, o) => {
    if (tfSkip) return { skipped: tfSkip };
    const runs = torchThreads.map((threads) => ({ ...runJson(python, [join(here, 'reference/real_shape.py'), figure, JSON.stringify(o)], { RFTKIT_TORCH_THREADS: String(threads) }), threads }));
    return { ...bestTorch(figure, runs), runs };
  };
  const say = (msg) => process.stderr.write(`[bench] real shape: ${msg}\n`);
  for (const o of torchMemoryRuns) {
    say(`PyTorch training micro-batch ${o.shape ?? 'smollm2-135m'}${o.lora ? ' LoRA' : ''}...`);
    out.pytorch.memory.push(ref('memory', o));
    save();
  }
  say('PyTorch prefill, decode, training tokens/s...');
  out.pytorch.throughput = ref('throughput', speed);
  save();
  say(`PyTorch GRPO step ${grpo.prompts}x${grpo.group}x${grpo.newTokens}...`);
  out.pytorch.grpo = ref('grpo', grpo);
  save();
  for (const backend of realBackends) {
    const r = { memory: [] };
    out.rftkit[backend] = r;
    for (const o of memoryRuns) {
      say(`${backend} training micro-batch ${o.shape ?? 'smollm2-135m'} ${o.lora ? 'LoRA ' : ''}${o.variant}...`);
      r.memory.push(ours(backend, 'memory', o));
      save();
    }
    say(`${backend} prefill, decode, training tokens/s...`);
    r.throughput = ours(backend, 'throughput', speed);
    save();
    say(`${backend} GRPO step ${grpo.prompts}x${grpo.group}x${grpo.newTokens}...`);
    r.grpo = ours(backend, 'grpo', grpo);
    save();
  }
  printReal(out, file.slice(here.length + 1));
  process.exit(0);
}

/** Of PyTorch runs at several thread counts, the fastest per figure row (memory: the faster step). */
function bestTorch(figure, runs) {
  const ok = runs.filter((r) => !r.skipped);
  if (!ok.length) return runs[0];
  if (figure === 'memory' || figure === 'grpo') return ok.reduce((a, b) => (b.stepSeconds < a.stepSeconds ? b : a));
  const rows = ok[0].rows.map((row) => {
    const best = ok.map((r) => ({ ...r.rows.find((x) => x.label === row.label), threads: r.threads })).reduce((a, b) => (b.after > a.after ? b : a));
    return best;
  });
  return { ...ok[0], rows, peakRssMB: Math.max(...ok.map((r) => r.peakRssMB)) };
}

/** The real-shape tables of a results object (also `node bench/run.mjs --print-real <file>`). */
function printReal(out, name) {
  const f = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  console.log(`\n## real shape: random SmolLM2-135M / Qwen2.5-0.5B-shaped models, rftkit vs the faster of PyTorch at ${[out.torchThreads].flat().join(" and ")} threads (${name})\n`);
  console.log('| training micro-batch | backend | shape | tokens | trainable params | peak RSS MB | wasm heap MB: before step → peak | step s |');
  console.log('|---|---|---|---|---|---|---|---|');
  const memRow = (backend, m) =>
    m.skipped || m.error
      ? console.log(`| ${m.variant ?? ''} | ${backend} | | | | ${m.skipped ? `skipped: ${m.skipped}` : `failed: ${m.error}`} | | |`)
      : console.log(`| ${m.variant} | ${backend} | ${m.shape ?? 'smollm2-135m'} | ${m.rows}x${m.seqLen} | ${(m.params / 1e6).toFixed(2)}M | ${f(m.peakRssMB)} | ${m.wasmHeapPeakMB ? `${f(m.wasmHeapBeforeMB)} → ${f(m.wasmHeapPeakMB)}` : '—'} | ${f(m.stepSeconds)} |`);
  for (const m of out.pytorch.memory) memRow(`PyTorch${m.threads ? ` ${m.threads}T` : ''}`, m);
  for (const [backend, r] of Object.entries(out.rftkit)) for (const m of r.memory) memRow(backend, m);
  const theirs = out.pytorch.throughput ?? {};
  const backends = Object.keys(out.rftkit);
  console.log(`\n| figure | unit | PyTorch | ${backends.map((b) => `rftkit ${b} | ${b}/PyTorch`).join(' | ')} |`);
  console.log(`|---|---|---|${backends.map(() => '---|---').join('|')}|`);
  const labels = [...new Set([...(theirs.rows ?? []), ...backends.flatMap((b) => out.rftkit[b].throughput?.rows ?? [])].map((r) => r.label))];
  for (const label of labels) {
    const t = theirs.rows?.find((x) => x.label === label)?.after ?? null;
    const cells = backends.map((b) => {
      const v = out.rftkit[b].throughput?.rows?.find((x) => x.label === label)?.after ?? null;
      return `${f(v)} | ${v && t ? f(v / t) : '—'}`;
    });
    const tThreads = theirs.rows?.find((x) => x.label === label)?.threads;
    console.log(`| ${label} | tokens/s | ${theirs.skipped ? 'skipped' : `${f(t)}${tThreads ? ` (${tThreads}T)` : ''}`} | ${cells.join(' | ')} |`);
  }
  const g = out.pytorch.grpo ?? {};
  const grpoSize = (x) => (x?.prompts ? `${x.prompts}x${x.group}x${x.newTokens}` : '');
  for (const part of ['rollout', 'score', 'update', 'step']) {
    const t = g[`${part}Seconds`];
    const cells = backends.map((b) => {
      const v = out.rftkit[b].grpo?.[`${part}Seconds`];
      // Seconds: a ratio above 1 means rftkit is faster.
      return `${f(v)} | ${v && t ? f(t / v) : '—'}`;
    });
    console.log(`| GRPO step ${grpoSize(g.prompts ? g : out.rftkit[backends[0]]?.grpo)}: ${part} | s (ratio: PyTorch s / rftkit s) | ${g.skipped ? 'skipped' : `${f(t)}${g.threads ? ` (${g.threads}T)` : ''}`} | ${cells.join(' | ')} |`);
  }
  console.log(`\npeak RSS MB (throughput process): PyTorch ${f(theirs.peakRssMB)}, ${backends.map((b) => `${b} ${f(out.rftkit[b].throughput?.peakRssMB)}`).join(', ')}`);
  console.log(`peak RSS MB (GRPO process): PyTorch ${f(g.peakRssMB)}, ${backends.map((b) => `${b} ${f(out.rftkit[b].grpo?.peakRssMB)}`).join(', ')}`);
}

if (args.includes('--print-real')) {
  const path = args[args.indexOf('--print-real') + 1];
  printReal(JSON.parse(readFileSync(path, 'utf8')), path);
  process.exit(0);
}

const SMALL = { dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 64 };
const LARGE = { dModel: 128, nLayers: 2, nHeads: 4, maxSeqLen: 64 };
const reps = quick ? 2 : 3;
const mm = (label, a, b, ta, tb, m, k, n, batch = 1) => ({ label, a, b, ta, tb, flops: 2 * batch * m * k * n });
const matmulCases = [
  mm('2-D [3072,128]·[128,512]', [3072, 128], [128, 512], false, false, 3072, 128, 512),
  mm('2-D transposeB', [3072, 128], [512, 128], false, true, 3072, 128, 512),
  mm('2-D transposeA (weight grad)', [128, 3072], [128, 512], true, false, 3072, 128, 512),
  mm('2-D both transposed', [128, 3072], [512, 128], true, true, 3072, 128, 512),
  mm('3-D attention q·kᵀ [256,48,32]', [256, 48, 32], [256, 48, 32], false, true, 48, 32, 48, 256),
  mm('3-D attention p·v [256,48,48]', [256, 48, 48], [256, 48, 32], false, false, 48, 48, 32, 256),
  mm('3-D·2-D broadcast [64,48,128]·[128,512]', [64, 48, 128], [128, 512], false, false, 48, 128, 512, 64),
];

/** [figure, options, label, backends it runs on] */
const plan = [
  ['matmul', { cases: matmulCases, reps: quick ? 3 : 5 }, 'matmul'],
  ['train', { size: SMALL, batch: 64, seqLen: 48, reps }, 'train (default size)'],
  ...(quick ? [] : [['train', { size: LARGE, batch: 64, seqLen: 48, reps, noBefore: false }, 'train (4x model)']]),
  ['decode', { size: SMALL, prompts: 16, samples: 8, promptLen: 12, newTokens: 32, reps }, 'rollout'],
  // The run configs' sizes (configs/grpo.yaml, configs/aepo.yaml) on the countdown task.
  ['rft', { algos: ['grpo', 'aepo'], size: { ...SMALL, maxSeqLen: 32 }, reps: quick ? 5 : 7, trainer: RFT_TRAINER }, 'RFT step'],
];

function runJson(cmd, argv, env = {}) {
  // A figure that runs past RFTKIT_BENCH_TIMEOUT_MIN minutes (default 15; 60 with --real) is stopped and reported failed.
  const minutes = Number(process.env.RFTKIT_BENCH_TIMEOUT_MIN ?? (args.includes("--real") ? 60 : 15));
  const r = spawnSync(cmd, argv, { cwd: here, encoding: "utf8", maxBuffer: 1 << 24, timeout: minutes * 60_000, env: { ...process.env, ...env } });
  const line = r.stdout?.trim().split('\n').pop();
  try {
    return JSON.parse(line ?? '');
  } catch {
    return { rows: [], skipped: `failed: ${(r.stderr || r.error?.message || 'no output').trim().split('\n').slice(-3).join(' | ')}` };
  }
}

const date = new Date().toISOString().slice(0, 10);
const fmt = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const results = {};
const torchCache = new Map();
mkdirSync(join(here, 'results'), { recursive: true });
for (const backend of backends) {
  const figures = [];
  for (const [figure, options, title] of plan) {
    if (backend === 'cpu' && figure === 'train' && options.size === LARGE && quick) continue;
    const opts = backend === 'cpu' ? { ...options, reps: Math.min(options.reps ?? 2, 2) } : options;
    process.stderr.write(`[bench] ${backend} ${title}...\n`);
    const ours = runJson(process.execPath, [join(here, 'src/worker.mjs'), backend, figure, JSON.stringify(opts)]);
    // The RFT step's batch shape comes from rftkit's own rollouts; PyTorch runs that shape.
    const torchOptions = figure === 'rft' ? { ...options, shape: ours.shape } : options;
    const torchRuns = {};
    for (const threads of torchSkip ? [] : torchThreads) {
      const key = JSON.stringify([figure, torchOptions, threads]);
      if (!torchCache.has(key)) {
        process.stderr.write(`[bench] pytorch (${threads} thread${threads > 1 ? 's' : ''}) ${title}...\n`);
        torchCache.set(key, runJson(python, [join(here, 'reference/torch_bench.py'), figure, JSON.stringify(torchOptions)], { RFTKIT_TORCH_THREADS: String(threads) }));
      }
      torchRuns[threads] = torchCache.get(key);
    }
    const torch = torchSkip ? { rows: [], skipped: torchSkip } : torchRuns[torchThreads[0]];
    const rows = (ours.rows ?? []).map((row) => {
      const byThreads = Object.fromEntries(torchThreads.map((t) => [t, torchRuns[t]?.rows?.find((r) => r.label === row.label)?.after ?? null]));
      const ref = byThreads[torchThreads[0]] ?? null;
      const refs = Object.values(byThreads).filter((x) => x != null);
      const best = refs.length ? Math.max(...refs) : null;
      return {
        ...row,
        pytorch: ref,
        pytorchByThreads: byThreads,
        ratio: ref ? row.after / ref : null,
        pytorchBest: best,
        ratioBest: best ? row.after / best : null,
        speedup: row.before ? row.after / row.before : null,
      };
    });
    figures.push({ figure, title, unit: ours.unit, rows, peakRssMB: ours.peakRssMB, pytorchPeakRssMB: torch.peakRssMB ?? null, skipped: ours.skipped, pytorchSkipped: torch.skipped, torch: torch.torch, policy: ours.policy, shape: ours.shape, wallSeconds: ours.wallSeconds });
  }
  results[backend] = figures;
  const file = join(here, 'results', `${date}-${backend}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify({ date, backend, quick, node: process.version, torchBlas, torchThreads, figures }, null, 2)}\n`);
  console.log(`\n## ${backend} (${file.slice(here.length + 1)})\n`);
  if (torchBlas) console.log(`PyTorch ${torchCache.values().next().value?.torch?.version ?? ''}, ${torchBlas.blas} BLAS, ${torchThreads.join(' and ')} threads (columns ${torchThreads.map((t) => `${t}T`).join(', ')})${torchBlas.blas === 'reference' ? ' — WARNING: reference BLAS, PyTorch figures are not a valid baseline' : ''}\n`);
  const th = torchThreads.map((t) => `PyTorch ${t}T`);
  console.log(`| figure | unit | stock kernels | rftkit | ${th.join(' | ')} | rftkit/PyTorch ${torchThreads[0]}T | rftkit/best PyTorch | speed-up | peak RSS MB (rftkit / PyTorch) |`);
  console.log(`|---|---|---|---|${th.map(() => '---|').join('')}---|---|---|---|`);
  for (const f of figures) {
    if (f.skipped) console.log(`| ${f.title} | | | skipped: ${f.skipped} |${th.map(() => ' |').join('')} | | | |`);
    for (const r of f.rows) {
      const cols = torchThreads.map((t) => fmt(r.pytorchByThreads?.[t])).join(' | ');
      console.log(`| ${r.label} | ${f.unit} | ${fmt(r.before)} | ${fmt(r.after)} | ${cols} | ${fmt(r.ratio)} | ${fmt(r.ratioBest)} | ${r.speedup ? `${fmt(r.speedup)}x` : '—'} | ${fmt(f.peakRssMB)} / ${fmt(f.pytorchPeakRssMB)} |`);
    }
  }
}
if (torchSkip) console.log(`\nPyTorch reference skipped: ${torchSkip}`);
