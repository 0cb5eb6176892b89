import os from 'node:os';
import { Worker as NodeWorker } from 'node:worker_threads';
import { resolveObjectURL } from 'node:buffer';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Multi-threaded XNNPACK for tfjs-backend-wasm under Node.
 *
 * tfjs-backend-wasm ships a threaded build (pthreads over Web Workers) but only loads it
 * where `WASM_HAS_MULTITHREAD_SUPPORT` holds, which is false in Node: the build hands its
 * worker script and main script to Emscripten as `blob:` URLs, and Node's `Worker` takes
 * neither. This module supplies the missing pieces while the backend initialises:
 *
 * - a `Worker` that runs a `blob:` worker script by passing the Blob itself to a small
 *   bootstrap (Node resolves `blob:` URLs only on the thread that made them);
 * - in that bootstrap, `importScripts` for the main-script Blob and the module-scope names
 *   the bundled main script refers to (the node bundle's `require$$N` imports);
 * - `os.cpus()` reporting `2 × threads` cores while the wasm module starts: the build sizes
 *   XNNPACK's thread pool from half the logical core count, before any setting applies.
 *
 * Checked against `@tensorflow/tfjs-backend-wasm` 4.22.0 only (the bootstrap depends on the
 * bundle's layout), so other versions keep the single-threaded build.
 */

/** The tfjs-backend-wasm version the bootstrap below was checked against. */
export const WASM_THREADS_CHECKED_VERSION = '4.22.0';

// Runs inside each pthread worker. `workerData.blob` is Emscripten's worker script.
const BOOTSTRAP = `
const wt = require('worker_threads');
const { EventEmitter } = require('events');
const port = new EventEmitter();
port.postMessage = (message, transfer) => wt.parentPort.postMessage(message, transfer);
const threads = { ...wt, parentPort: port };
const scopedRequire = (id) => (id === 'worker_threads' ? threads : require(id));
const scripts = new Map();
Object.assign(globalThis, {
  require$$0: require('fs'),
  require$$1: require('path'),
  require$$3: require('perf_hooks'),
  require$$4: require('os'),
  commonjsGlobal: globalThis,
  _scriptDir: undefined,
});
let ready = wt.workerData.blob.text().then((text) => {
  new Function('require', '__filename', text)(scopedRequire, 'rftkit-wasm-worker');
  const importScripts = globalThis.importScripts;
  globalThis.importScripts = (f) => (scripts.has(f) ? (0, eval)(scripts.get(f)) : importScripts(f));
});
// Messages are handled in order, each after the scripts it needs are read.
wt.parentPort.on('message', (data) => {
  ready = ready.then(async () => {
    if (data && data.cmd === 'load' && typeof data.urlOrBlob !== 'string') {
      const key = 'rftkit-wasm-main-' + scripts.size;
      scripts.set(key, await data.urlOrBlob.text());
      data.urlOrBlob = key;
    }
    port.emit('message', data);
  });
});
`;

class BlobUrlWorker extends NodeWorker {
  constructor(url: string | URL, options?: ConstructorParameters<typeof NodeWorker>[1]) {
    const blob = typeof url === 'string' && url.startsWith('blob:') ? resolveObjectURL(url) : undefined;
    if (blob) super(BOOTSTRAP, { ...options, eval: true, workerData: { blob } });
    else super(url, options);
  }
}

interface ThreadedWasmModule {
  HEAPU8: Uint8Array;
  PThread?: { unusedWorkers: NodeWorker[]; runningWorkers: NodeWorker[] };
  tfjs: { initWithThreadsCount(n: number): void; getThreadsCount(): number };
}

/**
 * The backend's two XNNPACK thread pools and the heap word that says which one kernels use.
 * Waking a worker costs tens of microseconds, more than a small product takes, so the
 * backend runs on the one-thread pool and the matmul override switches to the pool of
 * `threads` for products big enough to gain (`withWasmThreads`).
 */
interface ThreadPools {
  wasm: ThreadedWasmModule;
  /** Byte offset of tfjs' `tfjs::backend::threadpool` pointer. */
  address: number;
  single: number;
  multi: number;
  threads: number;
}

let pools: ThreadPools | undefined;

/**
 * Prepares the next wasm backend initialisation to use `threads` threads (the calling
 * thread plus `threads - 1` workers). Returns a function to call once initialisation has
 * finished, successfully or not, which puts the globals back.
 */
export function prepareWasmThreads(threads: number): () => void {
  const worker = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  const cpus = os.cpus;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  // Emscripten assigns `globalThis.Worker = worker_threads.Worker`; keep ours in place.
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => BlobUrlWorker, set: () => {} });
  const one = cpus()[0];
  os.cpus = () => Array.from({ length: 2 * threads }, () => one as os.CpuInfo);
  return () => {
    os.cpus = cpus;
    if (worker) Object.defineProperty(globalThis, 'Worker', worker);
    else delete (globalThis as { Worker?: unknown }).Worker;
  };
}

/**
 * Makes the one-thread pool the backend's default and remembers where the pool pointer
 * lives, so `withWasmThreads` can lend big products the multi-threaded one. The pointer is
 * found by creating the one-thread pool (tfjs' `init_with_threads_count(1)` overwrites it)
 * and checking each heap word that changed against `get_threads_count`. Returns false when
 * no word qualifies: the backend then runs on the one-thread pool alone.
 */
export function splitWasmThreadPools(wasmModule: unknown): boolean {
  const wasm = wasmModule as ThreadedWasmModule;
  const threads = wasm.tfjs.getThreadsCount();
  pools = undefined;
  if (threads <= 1) return false;
  // tfjs' globals sit in the static data near the start of the heap.
  const words = Math.min(wasm.HEAPU8.byteLength >>> 2, 1 << 22);
  const before = new Int32Array(wasm.HEAPU8.buffer, 0, words).slice();
  wasm.tfjs.initWithThreadsCount(1);
  const heap = new Int32Array(wasm.HEAPU8.buffer, 0, words);
  for (let i = 0; i < words; i++) {
    const single = heap[i] as number;
    const multi = before[i] as number;
    if (single === multi) continue;
    heap[i] = multi;
    const isPool = wasm.tfjs.getThreadsCount() === threads;
    heap[i] = single;
    if (isPool && wasm.tfjs.getThreadsCount() === 1) {
      pools = { wasm, address: i * 4, single, multi, threads };
      return true;
    }
  }
  return false;
}

/** Runs `fn` with `threads` XNNPACK threads when the pools were split, else as it is. */
export function withWasmThreads<T>(fn: () => T): T {
  if (!pools) return fn();
  const heap = new Int32Array(pools.wasm.HEAPU8.buffer, pools.address, 1);
  heap[0] = pools.multi;
  try {
    return fn();
  } finally {
    heap[0] = pools.single;
  }
}

/** Threads `withWasmThreads` computes on (1 when the backend is single-threaded). */
export function wasmThreads(): number {
  return pools?.threads ?? 1;
}

/** Lets the process exit while pthread workers idle (Emscripten keeps them referenced). */
export function unrefWasmWorkers(wasm: unknown): number {
  const pthread = (wasm as ThreadedWasmModule).PThread;
  if (!pthread) return 0;
  for (const w of [...pthread.unusedWorkers, ...pthread.runningWorkers]) w.unref();
  return pthread.runningWorkers.length;
}
