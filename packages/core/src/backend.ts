import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from './errors';
import { installKernels } from './kernels/index';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface SelectedBackend {
  /** The tfjs backend now active: `tensorflow`, `wasm` or `cpu`. */
  name: 'tensorflow' | 'wasm' | 'cpu';
  /** Where it came from, e.g. `@tensorflow/tfjs-node-gpu`. */
  source: string;
  /** Why others were passed over (for `auto`). */
  skipped: string[];
}

type Loader = () => Promise<{ source: string }>;

let gradientsRegistered = false;

/** Registers tfjs-core's gradient functions (idempotent). Needed before any training. */
export async function registerGradients(): Promise<void> {
  if (gradientsRegistered) return;
  await import('./gradients');
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

async function activate(name: Exclude<BackendName, 'auto'>): Promise<SelectedBackend> {
  const { source } = await loaders[name]();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') failed after loading ${source}`);
  await tf.ready();
  await installKernels(name);
  for (const hook of activationHooks) await hook(name);
  return { name, source, skipped: [] };
}

/**
 * Selects the tfjs backend. `auto` tries tensorflow (tfjs-node-gpu, then tfjs-node, when
 * installed), then wasm, then cpu, and reports which it chose and why others were
 * skipped. A named backend that cannot be loaded throws `BackendUnavailableError`.
 * Also registers gradients, so the result is ready to train.
 */
export async function selectBackend(
  requested: BackendName = 'auto',
  options: { log?: (message: string) => void } = {},
): Promise<SelectedBackend> {
  if (!BACKEND_NAMES.includes(requested)) {
    throw new BackendUnavailableError(String(requested), `unknown backend; allowed: ${BACKEND_NAMES.join(', ')}`);
  }
  await registerGradients();
  const order: Array<Exclude<BackendName, 'auto'>> =
    requested === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [requested];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      const selected = await activate(name);
      selected.skipped = skipped;
      options.log?.(
        `backend: ${name} (${selected.source})${skipped.length ? `; skipped ${skipped.join('; ')}` : ''}`,
      );
      return selected;
    } catch (cause) {
      if (requested !== 'auto') throw new BackendUnavailableError(name, firstLine(cause), { cause });
      skipped.push(`${name}: ${firstLine(cause)}`);
    }
  }
  throw new BackendUnavailableError('auto', `no backend could be loaded (${skipped.join('; ')})`);
}
