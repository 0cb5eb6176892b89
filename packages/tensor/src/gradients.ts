// tfjs-core registers no gradient functions by itself; this module does, once. The
// build bundles tfjs-core's gradient registrations into this file (their ESM sources do
// not load under plain Node), and registries are global, so one import serves all.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';

// Comparisons and logical ops are not differentiable, and tfjs registers no gradient for
// them, so backprop throws as soon as one lies between a variable and the loss (e.g. a
// condition on advantages that were shaped with a detached entropy). Their gradient is
// zero, as in PyTorch, where they simply carry no gradient.
const NON_DIFFERENTIABLE_BINARY = ['Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr'];
const NON_DIFFERENTIABLE_UNARY = ['LogicalNot', 'IsNan', 'IsInf', 'IsFinite'];

for (const kernelName of NON_DIFFERENTIABLE_BINARY) {
  if (tf.getGradient(kernelName)) continue;
  tf.registerGradient({
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (_dy, saved) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      return { a: () => tf.zerosLike(a), b: () => tf.zerosLike(b) };
    },
  });
}
for (const kernelName of NON_DIFFERENTIABLE_UNARY) {
  if (tf.getGradient(kernelName)) continue;
  tf.registerGradient({
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (_dy, saved) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => tf.zerosLike(x) };
    },
  });
}
