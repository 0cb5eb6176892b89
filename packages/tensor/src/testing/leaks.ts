import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs `fn` and throws if the number of live tensors changed. Disposing what `fn`
 * returns is the caller's job: pass a `dispose` that frees the result before counting.
 */
export async function expectNoLeaks<T>(
  fn: () => T | Promise<T>,
  options: { dispose?: (result: T) => void; label?: string } = {},
): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  options.dispose?.(result);
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(
      `${options.label ?? 'tensor leak'}: ${after - before} tensor(s) left alive (${before} before, ${after} after)`,
    );
  }
  return result;
}
