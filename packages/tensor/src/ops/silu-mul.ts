import * as tf from '@tensorflow/tfjs-core';

/** The composite form: `silu(gate) · up`, silu(x) = x·σ(x) (a SwiGLU MLP's product). */
export function siluMulComposite(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(gate, tf.sigmoid(gate)), up));
}

/**
 * `silu(gate) · up`, the same values as the composite form bit for bit. Its backward pass
 * keeps only `gate` and `up` (autodiff of the composite also keeps σ(gate) and silu(gate),
 * two more activations of the MLP's width) and recomputes σ:
 *   d gate = dy·up·σ·(1 + gate·(1 − σ)),  d up = dy·gate·σ.
 */
export function siluMul(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  if (!tf.util.arraysEqual(gate.shape, up.shape)) throw new Error(`siluMul: gate [${gate.shape}] and up [${up.shape}] must have one shape`);
  // Without a gradient tape there is nothing to save: the composite alone, one wrapper less.
  if (!tf.engine().isTapeOn()) return siluMulComposite(gate, up);
  const op = tf.customGrad((g, u, save) => {
    (save as tf.GradSaveFunc)([g as tf.Tensor, u as tf.Tensor]);
    return {
      value: siluMulComposite(g as tf.Tensor, u as tf.Tensor),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [gv, uv] = saved as [tf.Tensor, tf.Tensor];
          const s = tf.sigmoid(gv);
          const silu = tf.mul(gv, s);
          const dsilu = tf.mul(s, tf.add(1, tf.mul(gv, tf.sub(1, s))));
          return [tf.mul(tf.mul(dy, uv), dsilu), tf.mul(dy, silu)];
        }),
    };
  });
  return op(gate, up);
}
