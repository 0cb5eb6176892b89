import * as tf from '@tensorflow/tfjs-core';
import { GELU, GELU_GRAD, hasJsKernel } from '../kernels/js-kernels';
import { simdKernels } from '../kernels/simd';
import { isWasmBackend } from '../kernels/wasm-internals';

const GELU_C = Math.sqrt(2 / Math.PI);

/** The composite form (any backend): `x·σ(2u)` = `0.5·x·(1 + tanh u)`, `u = √(2/π)(x + 0.044715x³)`. */
export function geluComposite(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const twoU = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), 2 * GELU_C);
    return tf.mul(x, tf.sigmoid(twoU));
  });
}

function registerGradient(): void {
  if (tf.getGradient(GELU)) return;
  tf.registerGradient({
    kernelName: GELU,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => tf.engine().runKernel(GELU_GRAD, { dy: dy as tf.Tensor, x }) as tf.Tensor };
    },
  });
}

/** Whether gradients are being recorded (tfjs' engine has no public accessor). */
function recording(): boolean {
  const e = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return typeof e.isTapeOn === 'function' ? e.isTapeOn() : true;
}

/** Whether the fused kernels run as rftkit's SIMD code (wasm with the module loaded). */
function simdActive(): boolean {
  const backend = tf.backend();
  return isWasmBackend(backend) && simdKernels(backend) !== undefined;
}

/**
 * GELU, tanh approximation (GPT-2; torch `gelu(approximate='tanh')`). One fused kernel
 * forward and one backward (instead of ≈6 and ≈15): SIMD on wasm, JavaScript on cpu. On
 * wasm without the SIMD module, the fused pair runs only while gradients are recorded
 * (forward alone, XNNPACK's vectorised kernels beat the JavaScript loop). Other backends
 * use the composite form. All agree within float32 rounding.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (x.dtype !== 'float32' || !hasJsKernel(GELU)) return geluComposite(x);
  if (tf.getBackend() === 'wasm' && !simdActive() && !recording()) return geluComposite(x);
  registerGradient();
  return tf.engine().runKernel(GELU, { x }) as tf.Tensor;
}
