import * as tf from '@tensorflow/tfjs-core';

/**
 * tfjs' `engine.gradients` (behind tf.grad, tf.grads, tf.variableGrads) keeps every tensor
 * saved for the backward pass and the gradient of every intermediate tensor until the whole
 * backward pass ends. A training step's peak then holds all activations, all their
 * gradients and all weight gradients at once. This version walks the same tape in the same
 * order with the same gradient functions (so every gradient has the same bits) and frees
 * what is no longer needed as it goes, as PyTorch's autograd does:
 *   - a node's saved tensors once its gradient has run;
 *   - the gradient of a tensor once the node that produced it has run (every consumer of a
 *     tensor comes later on the tape, so by then its gradient is complete).
 * Gradients asked for (`xs`), a caller's `dy` and tensors still held elsewhere in the
 * gradient map are never freed early. Higher-order gradients (a gradient taken while
 * another tape records) keep tfjs' own implementation.
 */
const PATCHED = Symbol.for('rftkit.engine.freeingGradients');
const ORIGINAL = Symbol.for('rftkit.engine.tfjsGradients');

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

type Gradients = (
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients?: boolean,
) => { value: tf.Tensor; grads: tf.Tensor[] };

interface EngineInternals {
  state: { gradientDepth: number; activeTape: TapeNode[] | null };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
  gradients: Gradients;
  [PATCHED]?: true;
  [ORIGINAL]?: Gradients;
}

/** The nodes on a path from some x to y, inputs pruned to those that depend on an x (tfjs' getFilteredNodesXToY). */
export function nodesFromXToY(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const t of Object.values(node.inputs)) toY.add(t.id);
      nodesToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    out.push({ ...node, inputs, outputs: node.outputs });
  }
  return out;
}

/** Reverse-mode pass over `tape` from `seed` (y's gradient), freeing as it goes; returns xs' gradients. */
function backpropagateFreeing(
  engine: EngineInternals,
  tape: readonly TapeNode[],
  y: tf.Tensor,
  seed: tf.Tensor,
  xs: readonly tf.Tensor[],
  ownSeed: boolean,
): tf.Tensor[] {
  const grads = new Map<number, tf.Tensor>();
  // How many entries of `grads` hold each tensor: a gradient function may return its dy, so
  // one tensor can be the gradient of several.
  const holders = new Map<tf.Tensor, number>();
  // Tensors this pass made (new gradients and their sums), the only ones it frees early: a
  // gradient function could return a tensor that lives on elsewhere.
  const owned = new Set<tf.Tensor>(ownSeed ? [seed] : []);
  const wanted = new Set(xs.map((x) => x.id));
  const Engine = (engine as unknown as { constructor: { nextTensorId: number } }).constructor;
  const hold = (id: number, t: tf.Tensor) => {
    grads.set(id, t);
    holders.set(t, (holders.get(t) ?? 0) + 1);
  };
  const release = (id: number) => {
    const t = grads.get(id);
    if (!t) return;
    grads.delete(id);
    const n = (holders.get(t) ?? 1) - 1;
    if (n > 0) holders.set(t, n);
    else {
      holders.delete(t);
      if (owned.delete(t)) t.dispose();
    }
  };
  hold(y.id, seed);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGradients = node.gradient(dys);
    for (const name in node.inputs) {
      if (!(name in inputGradients)) {
        throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`);
      }
      const firstNewId = Engine.nextTensorId;
      const dx = engine.tidy('backprop', () => inputGradients[name]!());
      if (dx.dtype !== 'float32') {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
      }
      const x = node.inputs[name]!;
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
      }
      if (dx.id >= firstNewId) owned.add(dx);
      const current = grads.get(x.id);
      if (current == null) hold(x.id, dx);
      else {
        const sum = tf.add(current, dx);
        owned.add(sum);
        release(x.id);
        if (!holders.has(dx) && owned.delete(dx)) dx.dispose();
        hold(x.id, sum);
      }
    }
    // This node's outputs have their last consumer behind them, and its saved tensors have
    // served their one use.
    for (const o of node.outputs) if (!wanted.has(o.id)) release(o.id);
    for (const t of node.saved ?? []) if (!holders.has(t)) t.dispose();
  }
  return xs.map((x) => grads.get(x.id)!);
}

/** Installs the freeing backward pass on the engine (idempotent). */
export function installFreeingGradients(): void {
  const proto = Object.getPrototypeOf(tf.engine()) as EngineInternals;
  if (proto[PATCHED] || typeof proto.gradients !== 'function' || typeof proto.scopedRun !== 'function') return;
  const original = proto.gradients;
  proto.gradients = function (this: EngineInternals, f, xs, dy, allowNoGradients = false) {
    if (this.state.gradientDepth > 0) return original.call(this, f, xs, dy, allowNoGradients);
    tf.util.assert(xs.length > 0, () => 'gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = this.scopedRun(
      () => this.startTape(),
      () => this.endTape(),
      () => this.tidy('forward', f),
    );
    tf.util.assert(y instanceof tf.Tensor, () => 'The result y returned by f() must be a tensor.');
    const fullTape = this.state.activeTape ?? [];
    const tape = nodesFromXToY(fullTape, xs, y);
    if (!allowNoGradients && tape.length === 0 && xs.length > 0) {
      throw new Error(
        'Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.',
      );
    }
    return this.tidy('backward', () => {
      const seed = dy ?? tf.ones(y.shape);
      const grads = backpropagateFreeing(this, tape, y, seed, xs, dy == null);
      // Nodes off the path from xs to y still hold their saved tensors.
      for (const node of fullTape) for (const t of node.saved ?? []) if (!t.isDisposed && !grads.includes(t)) t.dispose();
      this.state.activeTape = null;
      return { value: y, grads };
    });
  };
  proto[PATCHED] = true;
  proto[ORIGINAL] = original;
}

/** Runs `f` with tfjs' own backward pass (for side-by-side checks and measurements). */
export function withTfjsBackward<T>(f: () => T): T {
  const engine = tf.engine() as unknown as EngineInternals;
  const original = (Object.getPrototypeOf(engine) as EngineInternals)[ORIGINAL];
  if (!original) return f();
  engine.gradients = original;
  try {
    return f();
  } finally {
    delete (engine as Partial<EngineInternals>).gradients;
  }
}
