import * as tf from '@tensorflow/tfjs-core';

/**
 * Kernel replacement bookkeeping. The replacing kernel function carries the kernel it
 * replaced under a global symbol, so installing twice (even from two copies of this
 * module, e.g. source and dist in one process) is a no-op and `restoreKernel` can put the
 * original back.
 */
const ORIGINAL = Symbol.for('rftkit.kernels.original');

type KernelFunc = tf.KernelConfig['kernelFunc'];
type Tagged = KernelFunc & { [ORIGINAL]?: tf.KernelConfig };

/** The kernel that an rftkit override replaced, or undefined when none is installed. */
export function originalKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  const current = tf.getKernel(kernelName, backendName) as tf.KernelConfig | undefined;
  return (current?.kernelFunc as Tagged | undefined)?.[ORIGINAL];
}

/**
 * Replaces `kernelName` on `backendName` with `make(original)`. The original's setupFunc
 * is kept, so a re-initialised backend still sets up what the original needs.
 */
export function overrideKernel(
  kernelName: string,
  backendName: string,
  make: (original: tf.KernelConfig) => KernelFunc,
): boolean {
  const current = tf.getKernel(kernelName, backendName) as tf.KernelConfig | undefined;
  if (!current) return false;
  if ((current.kernelFunc as Tagged)[ORIGINAL]) return false;
  const replacement = make(current) as Tagged;
  replacement[ORIGINAL] = current;
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ ...current, kernelFunc: replacement });
  return true;
}

/** Puts back the kernel an override replaced (for benchmarks and A/B checks). */
export function restoreKernel(kernelName: string, backendName: string): boolean {
  const original = originalKernel(kernelName, backendName);
  if (!original) return false;
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel(original);
  return true;
}
