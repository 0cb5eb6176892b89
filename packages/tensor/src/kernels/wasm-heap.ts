// tfjs-backend-wasm allocates every tensor with the module's `_malloc`. Built with memory
// growth, that malloc returns 0 when the heap cannot grow (4 GB is wasm32's limit), and
// the backend then registers the tensor at address 0: the run either corrupts the heap's
// first bytes or dies later in "memory access out of bounds" far from the cause. This
// guard throws at the failing allocation instead, with what was asked and what is held.
import * as tf from '@tensorflow/tfjs-core';
import { OutOfMemoryError } from '@rftkit/core';

/** The parts of the Emscripten module the guard touches. */
interface HeapModule {
  _malloc(bytes: number): number;
  HEAPU8: Uint8Array;
}

/** wasm32 addresses 4 GiB at most; tfjs' threaded and plain builds both grow up to it. */
export const WASM_HEAP_LIMIT_BYTES = 2 ** 32;

const guarded = new WeakSet<object>();
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

/** Bytes the engine's live tensors hold (0 before a backend is registered). */
function liveTensorBytes(): number {
  try {
    return tf.memory().numBytes;
  } catch {
    return 0;
  }
}

/** What a failed allocation says: the request, the heap, what live tensors hold, what to change. */
export function heapExhaustedMessage(requested: number, heapBytes: number, tensorBytes: number): string {
  return (
    `a tensor of ${mb(requested)} did not fit in the wasm heap (heap ${mb(heapBytes)} of its ` +
    `${mb(WASM_HEAP_LIMIT_BYTES)} limit, live tensors ${mb(tensorBytes)}). Lower what one pass holds: ` +
    'fewer rows per micro-batch (trainer microBatchSamples) or per rollout batch, a shorter context, ' +
    'LoRA instead of a full fine-tune, or activation recomputation; or run on the tensorflow backend, ' +
    'which has no 4 GB limit'
  );
}

/** Makes `_malloc` of a wasm backend's module throw `OutOfMemoryError` instead of returning 0. */
export function guardWasmHeap(module: HeapModule): void {
  if (guarded.has(module)) return;
  guarded.add(module);
  const malloc = module._malloc;
  module._malloc = (bytes: number): number => {
    // Above 4 GB the size would wrap to a small i32 and malloc would "succeed".
    const pointer = bytes < WASM_HEAP_LIMIT_BYTES ? malloc(bytes) : 0;
    if (pointer === 0 && bytes > 0) {
      throw new OutOfMemoryError('wasm', bytes, heapExhaustedMessage(bytes, module.HEAPU8.length, liveTensorBytes()));
    }
    return pointer;
  };
}
