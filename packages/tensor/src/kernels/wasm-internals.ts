import type * as tf from '@tensorflow/tfjs-core';

/**
 * The parts of tfjs-backend-wasm 4.x's `BackendWasm` the kernel overrides use. They are
 * not public API, so they are typed here and checked once by `isWasmBackend`.
 */
export interface WasmModule {
  cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
  HEAPU8: Uint8Array;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

export interface WasmBackend {
  wasm: WasmModule;
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: tf.DataId): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

export function isWasmBackend(backend: unknown): backend is WasmBackend {
  const b = backend as Partial<WasmBackend> | undefined;
  return (
    typeof b?.wasm?.cwrap === 'function' &&
    typeof b.wasm.tfjs?.registerTensor === 'function' &&
    typeof b.dataIdNextNumber === 'number' &&
    typeof b.makeOutput === 'function'
  );
}

/** Int32 shape/perm bytes, as the wasm kernels' `array` arguments take them. */
export function int32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(new Int32Array(values).buffer);
}

/** C entry points used by the overrides, wrapped once per wasm module. */
export interface WasmFns {
  batchMatMul(
    aId: number,
    aShape: Uint8Array,
    aRank: number,
    bId: number,
    bShape: Uint8Array,
    bRank: number,
    transposeA: boolean,
    transposeB: boolean,
    outId: number,
  ): void;
  transpose(
    xId: number,
    xShape: Uint8Array,
    xRank: number,
    dtype: number,
    outId: number,
    perm: Uint8Array,
    permLength: number,
  ): void;
}

const fnsByModule = new WeakMap<WasmModule, WasmFns>();

export function wasmFns(backend: WasmBackend): WasmFns {
  let fns = fnsByModule.get(backend.wasm);
  if (!fns) {
    const w = backend.wasm;
    fns = {
      batchMatMul: w.cwrap('BatchMatMul', null, [
        'number',
        'array',
        'number',
        'number',
        'array',
        'number',
        'number',
        'number',
        'number',
      ]) as WasmFns['batchMatMul'],
      transpose: w.cwrap('Transpose', null, [
        'number',
        'array',
        'number',
        'number',
        'number',
        'array',
        'number',
      ]) as WasmFns['transpose'],
    };
    fnsByModule.set(backend.wasm, fns);
  }
  return fns;
}

const FLOAT32 = 0; // CppDType.float32 in tfjs-backend-wasm

/** The wasm tensor id and heap offset of a tensor the backend holds. */
export function tensorData(backend: WasmBackend, t: tf.TensorInfo): WasmTensorData {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data) throw new Error('wasm kernels: tensor data is not on the wasm backend');
  return data;
}

/**
 * A new float32 [batch, cols, rows] buffer holding each [rows, cols] matrix of `x`
 * transposed. The caller disposes it with `backend.disposeData(result.dataId)`.
 */
export function transposeLastTwo(
  backend: WasmBackend,
  x: tf.TensorInfo,
  batch: number,
  rows: number,
  cols: number,
): tf.TensorInfo {
  const out = backend.makeOutput([batch, cols, rows], 'float32');
  const xId = tensorData(backend, x).id;
  const outId = tensorData(backend, out).id;
  // The C transpose is fastest on the lowest rank that describes the permutation.
  if (batch === 1) {
    wasmFns(backend).transpose(xId, int32Bytes([rows, cols]), 2, FLOAT32, outId, int32Bytes([1, 0]), 2);
  } else {
    wasmFns(backend).transpose(
      xId,
      int32Bytes([batch, rows, cols]),
      3,
      FLOAT32,
      outId,
      int32Bytes([0, 2, 1]),
      3,
    );
  }
  return out;
}

/** Permutes a contiguous float32 buffer of `shape` by `perm` into a new buffer. */
export function permute(
  backend: WasmBackend,
  x: tf.TensorInfo,
  shape: number[],
  perm: number[],
): tf.TensorInfo {
  const outShape = perm.map((p) => shape[p] as number);
  const out = backend.makeOutput(outShape, 'float32');
  wasmFns(backend).transpose(
    tensorData(backend, x).id,
    int32Bytes(shape),
    shape.length,
    FLOAT32,
    tensorData(backend, out).id,
    int32Bytes(perm),
    perm.length,
  );
  return out;
}

/**
 * Registers `size` floats at heap offset `memoryOffset` as a tensor the C kernels can
 * read or write, without copying. Release with `releaseView` (never `disposeData`: the
 * memory belongs to another tensor). Each view gets a fresh id, because the C matmul
 * caches packed weights by tensor id and drops them when the id is released.
 */
export function registerView(backend: WasmBackend, memoryOffset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, memoryOffset);
  return id;
}

export function releaseView(backend: WasmBackend, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}
