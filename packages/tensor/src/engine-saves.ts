import * as tf from '@tensorflow/tfjs-core';

/**
 * tfjs' engine keeps each tensor a kernel saves for its gradient as a clone, and a clone is a
 * full kernel launch (Identity) plus a tape node of its own: ≈450 of them in a training step
 * of rftkit's default model. Tensors are immutable and buffers reference-counted, so a saved
 * tensor can simply share its source's buffer: this makes the new tensor directly (the same
 * thing the Identity kernel's wasm override returns), without the launch or the tape node.
 * Gradients never flow through saved tensors, so the missing tape node changes nothing.
 */
const PATCHED = Symbol.for('rftkit.engine.aliasingSaves');

interface EngineInternals {
  state: { tensorInfo: { get(dataId: tf.DataId): { backend: tf.KernelBackend } | undefined } };
  keep<T extends tf.Tensor>(t: T): T;
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend?: tf.KernelBackend): tf.Tensor;
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  [PATCHED]?: true;
}

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/** Installs the aliasing saves on the engine (idempotent). */
export function installAliasingSaves(): void {
  const proto = Object.getPrototypeOf(tf.engine()) as EngineInternals;
  if (proto[PATCHED] || typeof proto.saveTensorsForBackwardMode !== 'function') return;
  const original = proto.saveTensorsForBackwardMode;
  proto.saveTensorsForBackwardMode = function (this: EngineInternals, tensors: tf.Tensor[]): tf.Tensor[] {
    return tensors.map((t) => {
      const backend = this.state.tensorInfo.get(t.dataId)?.backend as unknown as Partial<RefCountingBackend> | undefined;
      if (!backend || typeof backend.incRef !== 'function' || t.dtype === 'string') return original.call(this, [t])[0]!;
      backend.incRef(t.dataId);
      return this.keep(this.makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }, backend as unknown as tf.KernelBackend));
    });
  };
  proto[PATCHED] = true;
}
