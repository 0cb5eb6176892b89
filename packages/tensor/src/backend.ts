import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, ConfigError } from '@rftkit/core';
import { installAliasingSaves } from './engine-saves';
import { installKernels } from './kernels/index';
import { simdBuild } from './kernels/simd';
import { isWasmBackend } from './kernels/wasm-internals';
import { guardWasmHeap } from './kernels/wasm-heap';
import { installFreeingGradients } from './engine-gradients';
import {
  WASM_THREADS_CHECKED_VERSION,
  prepareWasmThreads,
  splitWasmThreadPools,
  unrefWasmWorkers,
  wasmThreads,
} from './wasm-threads';
import { type ActiveBackendName, BACKEND_NAMES, type BackendName } from './backend-names';

export { type ActiveBackendName, BACKEND_NAMES, type BackendName } from './backend-names';

export interface SelectedBackend {
  /** The tfjs backend now active: `tensorflow`, `wasm` or `cpu`. */
  name: ActiveBackendName;
  /** Where it came from, e.g. `@tensorflow/tfjs-node-gpu`. */
  source: string;
  /** Why others were passed over (for `auto`). */
  skipped: string[];
  /** Threads the backend computes on (wasm: XNNPACK's pool, the calling thread included). */
  threads?: number;
  /**
   * wasm: which build of rftkit's SIMD kernels runs (`relaxed`: with relaxed SIMD's fused
   * multiply-add; `simd`; `none`: JavaScript kernels, e.g. with `RFTKIT_WASM_SIMD=0`).
   */
  simd?: 'relaxed' | 'simd' | 'none';
}

export interface SelectBackendOptions {
  log?: (message: string) => void;
  /**
   * Threads for the wasm backend (1–4). Default: `RFTKIT_WASM_THREADS`, else the machine's
   * cores up to 4. Takes effect the first time wasm is initialised in a process.
   */
  threads?: number;
}

type Loader = () => Promise<{ source: string }>;

let gradientsRegistered = false;

/** Registers tfjs-core's gradient functions (idempotent). Needed before any training. */
export async function registerGradients(): Promise<void> {
  if (gradientsRegistered) return;
  await import('./gradients');
  installAliasingSaves();
  // RFTKIT_FREE_DURING_BACKWARD=0 keeps tfjs' own backward pass (everything freed at its end).
  if (typeof process === 'undefined' || process.env.RFTKIT_FREE_DURING_BACKWARD !== '0') installFreeingGradients();
  gradientsRegistered = true;
}

async function tryImport(specifier: string): Promise<void> {
  // A variable specifier keeps bundlers from resolving optional peers at build time.
  await import(/* @vite-ignore */ specifier);
}

const loaders: Record<Exclude<BackendName, 'auto'>, Loader> = {
  async tensorflow() {
    const errors: string[] = [];
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        await tryImport(pkg);
        return { source: pkg };
      } catch (e) {
        errors.push(`${pkg}: ${firstLine(e)}`);
      }
    }
    throw new Error(
      `install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA) next to rftkit (${errors.join('; ')})`,
    );
  },
  async wasm() {
    await tryImport('@tensorflow/tfjs-backend-wasm');
    return { source: '@tensorflow/tfjs-backend-wasm' };
  },
  async cpu() {
    await tryImport('@tensorflow/tfjs-backend-cpu');
    return { source: '@tensorflow/tfjs-backend-cpu' };
  },
};

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0] ?? '';
}

/** Hooks run after a backend is activated (e.g. faster kernels for that backend). */
const activationHooks: Array<(name: SelectedBackend['name']) => void | Promise<void>> = [];

/** Registers a hook run each time `selectBackend` activates a backend. */
export function onBackendSelected(hook: (name: SelectedBackend['name']) => void | Promise<void>): void {
  activationHooks.push(hook);
}

const MAX_WASM_THREADS = 4;

const SIMD_LABELS = { relaxed: 'relaxed SIMD', simd: 'SIMD', none: 'no SIMD' } as const;

/** A module that is simply absent, as opposed to one that is installed but fails to load. */
function isNotInstalled(reason: string): boolean {
  return /Cannot find (package|module)|ERR_MODULE_NOT_FOUND|Could not resolve/.test(reason);
}

function brief(reason: string): string {
  // tfjs-node installed without its compiled binding (e.g. its install script did not run).
  if (/native addon module .* can not be found/.test(reason)) return 'native addon not built';
  const text = reason.trim();
  return text.length > 48 ? `${text.slice(0, 45)}...` : text;
}

/** One short phrase per backend passed over, e.g. `tfjs-node not installed`. */
function shortSkip(entry: string): string {
  const [name = entry, ...rest] = entry.split(': ');
  const reason = rest.join(': ');
  if (name !== 'tensorflow') return isNotInstalled(reason) ? `${name} not installed` : `${name} failed: ${brief(reason)}`;
  // tensorflow's reason lists each package tried as `pkg: why`, separated by `; `.
  const tried = reason.slice(reason.indexOf('(') + 1).split('; ');
  const broken = tried.find((part) => !isNotInstalled(part));
  if (broken === undefined) return 'tfjs-node not installed';
  const [pkg = '', ...why] = broken.split(': ');
  return `${pkg.replace('@tensorflow/', '')} failed: ${brief(why.join(': '))}`;
}

/**
 * The one line printed for the chosen backend, e.g.
 * `backend: wasm (SIMD, 1 thread; tfjs-node not installed)`; the full reasons stay in `skipped`.
 */
export function describeBackend(selected: SelectedBackend): string {
  const details: string[] = [];
  if (selected.simd) details.push(SIMD_LABELS[selected.simd]);
  if (selected.threads !== undefined) details.push(`${selected.threads} thread${selected.threads === 1 ? '' : 's'}`);
  if (selected.name === 'tensorflow') details.push(selected.source.replace('@tensorflow/', ''));
  const head = details.join(', ');
  const skips = selected.skipped.map(shortSkip).join(', ');
  const inner = [head, skips].filter((part) => part !== '').join('; ');
  return `backend: ${selected.name}${inner ? ` (${inner})` : ''}`;
}

/** The wasm thread count asked for: option, then `RFTKIT_WASM_THREADS`, then the cores. */
export function requestedWasmThreads(option?: number): number {
  const fromEnv = process.env.RFTKIT_WASM_THREADS;
  const raw = option ?? (fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : undefined);
  if (raw === undefined) return Math.min(MAX_WASM_THREADS, os.availableParallelism());
  if (!Number.isInteger(raw) || raw < 1 || raw > MAX_WASM_THREADS) {
    const field = option !== undefined ? 'threads' : 'RFTKIT_WASM_THREADS (environment)';
    throw new ConfigError('of the backend', [
      { path: field, message: `must be an integer from 1 to ${MAX_WASM_THREADS}, got ${String(option ?? fromEnv)}` },
    ]);
  }
  return raw;
}

interface WasmBackendModule {
  version_wasm?: string;
  getThreadsCount?: () => number;
}

async function setWasmBackend(threads: number): Promise<number> {
  const mod = (await import(/* @vite-ignore */ '@tensorflow/tfjs-backend-wasm')) as WasmBackendModule;
  const fresh = tf.findBackend('wasm') === null;
  const threaded = fresh && threads > 1 && mod.version_wasm === WASM_THREADS_CHECKED_VERSION;
  const restore = threaded ? prepareWasmThreads(threads) : undefined;
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
  } finally {
    restore?.();
  }
  if (!ok && threaded) {
    // Fall back to the single-threaded build rather than fail the run.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    ok = await tf.setBackend('wasm');
  }
  if (!ok) throw new Error(`tf.setBackend('wasm') failed after loading @tensorflow/tfjs-backend-wasm`);
  const wasm = (tf.backend() as unknown as { wasm: Parameters<typeof guardWasmHeap>[0] }).wasm;
  guardWasmHeap(wasm);
  unrefWasmWorkers(wasm);
  if (threaded) splitWasmThreadPools(wasm);
  return wasmThreads() > 1 ? wasmThreads() : (mod.getThreadsCount?.() ?? 1);
}

async function activate(name: Exclude<BackendName, 'auto'>, wasmThreads: number): Promise<SelectedBackend> {
  const { source } = await loaders[name]();
  let threads: number | undefined;
  let simd: SelectedBackend['simd'];
  if (name === 'wasm') {
    threads = await setWasmBackend(wasmThreads);
    const backend = tf.backend();
    simd = isWasmBackend(backend) ? simdBuild(backend) : 'none';
  } else {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tf.setBackend('${name}') failed after loading ${source}`);
  }
  await tf.ready();
  await installKernels(name);
  for (const hook of activationHooks) await hook(name);
  return { name, source, skipped: [], ...(threads !== undefined ? { threads } : {}), ...(simd ? { simd } : {}) };
}

/**
 * Selects the tfjs backend. `auto` tries tensorflow (tfjs-node-gpu, then tfjs-node, when
 * installed), then wasm, then cpu, and reports which it chose and why others were
 * skipped. A named backend that cannot be loaded throws `BackendUnavailableError`.
 * Also registers gradients, so the result is ready to train.
 */
export async function selectBackend(
  requested: BackendName = 'auto',
  options: SelectBackendOptions = {},
): Promise<SelectedBackend> {
  if (!BACKEND_NAMES.includes(requested)) {
    throw new BackendUnavailableError(String(requested), `unknown backend; allowed: ${BACKEND_NAMES.join(', ')}`);
  }
  const wasmThreads = requestedWasmThreads(options.threads);
  await registerGradients();
  const order: Array<Exclude<BackendName, 'auto'>> =
    requested === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [requested];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      const selected = await activate(name, wasmThreads);
      selected.skipped = skipped;
      options.log?.(describeBackend(selected));
      return selected;
    } catch (cause) {
      if (requested !== 'auto') throw new BackendUnavailableError(name, firstLine(cause), { cause });
      skipped.push(`${name}: ${firstLine(cause)}`);
    }
  }
  throw new BackendUnavailableError('auto', `no backend could be loaded (${skipped.join('; ')})`);
}
