import { Worker } from 'node:worker_threads';

/**
 * Worker threads running rftkit's SIMD `matmul` on the wasm backend's shared memory, so one
 * product uses every core (tfjs-backend-wasm's own threads serve XNNPACK only).
 *
 * Each worker instantiates the same compiled module over the same `WebAssembly.Memory` and
 * sleeps on a word of its control block. The calling thread writes a part's arguments,
 * bumps the word and wakes the worker, computes its own part, then waits for the worker's
 * done word. Parts are disjoint rows (or columns) of the output, so no result depends on how
 * the work is split. A woken worker spins briefly before sleeping again: products come in
 * bursts, and a futex wake costs tens of microseconds.
 */

/** Control block layout (Uint32 words). */
const SEQ = 0;
const DONE = 1;
const READY = 2;
/** Set by a worker whose part threw (a trap): the caller throws in turn. */
const FAILED = 3;
/**
 * Which kernel the part runs: 0 `matmul`, 1 `matmul_packed`, 2 `adam_update`, 3 `add_into`,
 * 4 `attention_forward`, 5 `attention_backward`.
 */
const FN = 4;
const ARGS = 5;
const MAX_ARGS = 17;

const WORKER = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, spin } = workerData;
const { matmul, matmul_packed, adam_update, add_into, attention_forward, attention_backward } = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const args = new Uint32Array(control, ${ARGS * 4}, ${MAX_ARGS});
const f = new Float32Array(control, ${ARGS * 4}, ${MAX_ARGS});
Atomics.store(ctl, ${READY}, 1);
let seen = 0;
for (;;) {
  for (let i = 0; i < spin && Atomics.load(ctl, ${SEQ}) === seen; i++);
  Atomics.wait(ctl, ${SEQ}, seen);
  seen = Atomics.load(ctl, ${SEQ});
  if (seen === -1) break;
  try {
    if (ctl[${FN}] === 1) matmul_packed(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], args[9], args[10], args[11], args[12]);
    else if (ctl[${FN}] === 2) adam_update(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[15], f[16]);
    else if (ctl[${FN}] === 3) add_into(args[0], args[1], args[2]);
    else if (ctl[${FN}] === 4) attention_forward(...args.subarray(0, 14));
    else if (ctl[${FN}] === 5) attention_backward(...args.subarray(0, 14));
    else matmul(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], args[9], args[10]);
  } catch {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

type Kernel = (...args: number[]) => void;
type Fn = 0 | 1 | 2 | 3 | 4 | 5;
interface Kernels {
  matmul: Kernel;
  matmul_packed: Kernel;
  adam_update: Kernel;
  add_into: Kernel;
  attention_forward: Kernel;
  attention_backward: Kernel;
}

/** One worker and its control block. */
class SimdWorker {
  private readonly ctl: Int32Array;
  private readonly args: Uint32Array;
  private readonly floats: Float32Array;
  private readonly worker: Worker;
  private seq = 0;
  private failed = false;

  constructor(module: object, memory: object, spin: number) {
    const control = new SharedArrayBuffer((ARGS + MAX_ARGS) * 4);
    this.ctl = new Int32Array(control);
    this.args = new Uint32Array(control, ARGS * 4, MAX_ARGS);
    this.floats = new Float32Array(control, ARGS * 4, MAX_ARGS);
    this.worker = new Worker(WORKER, { eval: true, workerData: { module, memory, control, spin } });
    this.worker.on('error', () => {
      this.failed = true;
    });
    this.worker.unref();
  }

  get ready(): boolean {
    return !this.failed && Atomics.load(this.ctl, READY) === 1;
  }

  /** `ints` from the first argument on, then `floats` as float32 (the kernel's f32 parameters). */
  start(fn: Fn, args: number[], floats: number[] = []): void {
    this.ctl[FN] = fn;
    this.args.set(args);
    this.floats.set(floats, args.length);
    this.seq = (this.seq + 1) & 0x3fffffff;
    Atomics.store(this.ctl, SEQ, this.seq);
    Atomics.notify(this.ctl, SEQ);
  }

  /** Blocks until the part given to `start` is written (the caller's part takes as long). */
  finish(): void {
    let spins = 0;
    while (Atomics.load(this.ctl, DONE) !== this.seq) {
      if (++spins > 100_000) Atomics.wait(this.ctl, DONE, Atomics.load(this.ctl, DONE), 1000);
    }
    if (Atomics.exchange(this.ctl, FAILED, 0) === 1) {
      throw new Error('rftkit SIMD kernels: a worker thread trapped on its part of the work (memory access out of bounds?)');
    }
  }

  stop(): void {
    Atomics.store(this.ctl, SEQ, -1);
    Atomics.notify(this.ctl, SEQ);
  }
}

/** Knobs of the threaded matmul, for benchmarks (bench/src/matmul-rate.mjs). */
export const simdThreadTuning = {
  /** Products below this many multiply-adds run on the calling thread alone. */
  minMacs: 1_000_000,
  /** Elementwise updates (Adam, addInto) of fewer values run on the calling thread alone. */
  minElementwise: 256 * 1024,
  /** How many `Atomics.load`s a worker spins through before it sleeps again. */
  spin: 200_000,
};

/** rftkit's SIMD matmuls split across the calling thread and `threads - 1` workers. */
export class SimdThreads {
  private readonly workers: SimdWorker[];

  constructor(
    module: object,
    memory: object,
    private readonly kernels: Kernels,
    threads: number,
  ) {
    this.workers = Array.from({ length: Math.max(0, threads - 1) }, () => new SimdWorker(module, memory, simdThreadTuning.spin));
  }

  /** Threads a product can use now: 1 until every worker has started. */
  get threads(): number {
    return this.workers.length > 0 && this.workers.every((w) => w.ready) ? this.workers.length + 1 : 1;
  }

  /**
   * `matmul` (see SimdKernels) with the output's rows, or its columns when there are too
   * few rows, cut into one part per thread. Byte offsets, as the kernel takes them.
   */
  run(A: number, B: number, C: number, M: number, K: number, N: number, ars: number, acs: number, ldb: number, ldc: number, bias: number): void {
    this.split(0, this.threads, M, K, N, (byRows, from, size) =>
      byRows
        ? [A + 4 * from * ars, B, C + 4 * from * ldc, size, K, N, ars, acs, ldb, ldc, bias]
        : [A, B + 4 * from, C + 4 * from, M, K, size, ars, acs, ldb, ldc, bias ? bias + 4 * from : 0],
    );
  }

  /**
   * `matmul_packed` split the same way, preferring columns (each thread then packs only its
   * part of B), over at most `panels` threads: thread t packs into `panel + t · panelBytes`.
   */
  runPacked(A: number, B: number, C: number, M: number, K: number, N: number, ars: number, acs: number, brs: number, bcs: number, ldc: number, bias: number, panel: number, panelBytes: number, panels: number): void {
    this.split(1, Math.min(panels, this.threads), M, K, N, (byRows, from, size, t) =>
      byRows
        ? [A + 4 * from * ars, B, C + 4 * from * ldc, size, K, N, ars, acs, brs, bcs, ldc, bias, panel + t * panelBytes]
        : [A, B + 4 * from * bcs, C + 4 * from, M, K, size, ars, acs, brs, bcs, ldc, bias ? bias + 4 * from : 0, panel + t * panelBytes],
    );
  }

  /**
   * `adam_update` (see SimdKernels) over parameters cut into one contiguous range per thread:
   * it is elementwise, so every value is the same however the range is cut. `ptrs` are x, g,
   * m, v, x1, m1, v1; `scalars` its 9 float parameters.
   */
  runAdam(ptrs: readonly number[], n: number, scalars: readonly number[]): void {
    const threads = n >= simdThreadTuning.minElementwise ? this.threads : 1;
    // Ranges of whole 16-float (64-byte) lines, so no two threads write one cache line.
    this.inParts(2, threads, n, 16, (from, size) => [...ptrs.map((p) => p + 4 * from), size], scalars);
  }

  /** `add_into(a, b, n)` over one contiguous range of whole cache lines per thread. */
  runAddInto(a: number, b: number, n: number): void {
    const threads = n >= simdThreadTuning.minElementwise ? this.threads : 1;
    this.inParts(3, threads, n, 16, (from, size) => [a + 4 * from, b + 4 * from, size]);
  }

  /**
   * `attention_forward` (SimdKernels' argument order) with the batch rows cut into one part
   * per thread: every row's outputs are its own, so the values do not depend on the cut.
   */
  runAttentionForward(q: number, k: number, v: number, mask: number, out: number, probs: number, B: number, Tq: number, Tk: number, L: number, H: number, KH: number, dh: number, causal: number): void {
    const threads = B * H * Tq * L * dh >= simdThreadTuning.minMacs ? this.threads : 1;
    const [D, DK] = [H * dh, KH * dh];
    this.inParts(4, threads, B, 1, (b, n) => [
      q + 4 * b * Tq * D, k + 4 * b * Tk * DK, v + 4 * b * Tk * DK, mask + 4 * b * Tk, out + 4 * b * Tq * D, probs + 4 * b * H * Tq * Tk,
      n, Tq, Tk, L, H, KH, dh, causal,
    ]);
  }

  /** `attention_backward` cut by batch rows as the forward is. */
  runAttentionBackward(dout: number, q: number, k: number, v: number, probs: number, dq: number, dk: number, dv: number, B: number, Tq: number, Tk: number, H: number, KH: number, dh: number): void {
    const threads = B * H * Tq * Tk * dh >= simdThreadTuning.minMacs ? this.threads : 1;
    const [D, DK] = [H * dh, KH * dh];
    this.inParts(5, threads, B, 1, (b, n) => [
      dout + 4 * b * Tq * D, q + 4 * b * Tq * D, k + 4 * b * Tk * DK, v + 4 * b * Tk * DK, probs + 4 * b * H * Tq * Tk,
      dq + 4 * b * Tq * D, dk + 4 * b * Tk * DK, dv + 4 * b * Tk * DK,
      n, Tq, Tk, H, KH, dh,
    ]);
  }

  /** Runs kernel `fn` in parts over `available` threads (read once: a worker may start meanwhile). */
  private split(fn: 0 | 1, available: number, M: number, K: number, N: number, args: (byRows: boolean, from: number, size: number, thread: number) => number[]): void {
    const threads = M * K * N >= simdThreadTuning.minMacs ? available : 1;
    const byRows = fn === 0 ? M >= 4 * threads : N < 16 * threads && M >= 4 * threads;
    this.inParts(fn, threads, byRows ? M : N, byRows ? 4 : 8, (from, size, t) => args(byRows, from, size, t));
  }

  /**
   * Kernel `fn` over `total` items cut into `threads` parts of multiples of `align`: parts
   * 1.. on the workers, part 0 on the calling thread, then waits for the workers. `args`
   * gives a part's integer arguments; `floats` follow them for every part.
   */
  private inParts(
    fn: Fn,
    threads: number,
    total: number,
    align: number,
    args: (from: number, size: number, thread: number) => number[],
    floats: readonly number[] = [],
  ): void {
    const k = this.kernels;
    const kernel = [k.matmul, k.matmul_packed, k.adam_update, k.add_into, k.attention_forward, k.attention_backward][fn] as Kernel;
    const part = (t: number) => Math.min(total, Math.ceil((total * t) / threads / align) * align);
    const partArgs = (t: number) => {
      const from = part(t);
      const size = part(t + 1) - from;
      return size > 0 ? args(from, size, t) : undefined;
    };
    const busy: SimdWorker[] = [];
    for (let t = 1; t < threads; t++) {
      const a = partArgs(t);
      if (!a) continue;
      const worker = this.workers[t - 1] as SimdWorker;
      worker.start(fn, a, [...floats]);
      busy.push(worker);
    }
    try {
      const own = partArgs(0);
      if (own) kernel(...own, ...floats);
    } finally {
      for (const w of busy) w.finish();
    }
  }

  /** Ends the workers (a backend being dropped). */
  stop(): void {
    for (const w of this.workers) w.stop();
  }
}
