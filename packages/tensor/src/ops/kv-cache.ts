import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@rftkit/core';
import { floatView } from '../kernels/float-view';

/**
 * One layer's keys or values for a decode session, `[B, capacity, D]`, filled along time.
 *
 * On wasm and cpu the buffer is allocated once and each `append` copies the new time steps
 * into it in place, so a step costs the new rows, not the whole cache (a concat per step
 * copies all of it: at 64 rows × 160 keys × 30 layers of SmolLM2 that is ≈ 470 MB a step).
 * The buffer is never handed out except to be read (`tensor` with `length` as attention's
 * `keyLength`), so nothing observes the write. Elsewhere (tensorflow, whose tensors live
 * in the native runtime) the cache grows by one concat per step.
 */
export class KvCache {
  /** Time steps written so far. */
  length = 0;
  /** Whether appends write into one preallocated buffer. */
  readonly inPlace: boolean;
  private buffer: tf.Tensor3D;
  private rows: number;
  private disposed = false;

  constructor(
    batch: number,
    readonly capacity: number,
    readonly dim: number,
    options: { inPlace?: boolean } = {},
  ) {
    this.rows = batch;
    const backend = tf.getBackend();
    this.inPlace = (options.inPlace ?? true) && (backend === 'wasm' || backend === 'cpu');
    // Kept: a cache made or grown inside a tidy outlives it.
    this.buffer = tf.keep(tf.zeros([batch, this.inPlace ? capacity : 0, dim]));
  }

  /** Batch rows. */
  get batch(): number {
    return this.rows;
  }

  /**
   * Keys read so far: the whole buffer `[B, capacity, D]` in place (only the first `length`
   * steps hold keys), or `[B, length, D]`.
   */
  get tensor(): tf.Tensor3D {
    if (this.disposed) throw new ShapeError('KvCache', 'the cache was disposed');
    return this.buffer;
  }

  /** Appends `x [B, n, D]` (float32) after the steps written so far. */
  append(x: tf.Tensor3D): void {
    const [B, n, D] = x.shape;
    if (this.disposed) throw new ShapeError('KvCache.append', 'the cache was disposed');
    if (B !== this.batch || D !== this.dim || x.dtype !== 'float32') {
      throw new ShapeError('KvCache.append', `expected float32 [${this.batch}, n, ${this.dim}], got ${x.dtype} [${x.shape}]`);
    }
    if (this.length + n > this.capacity) {
      throw new ShapeError('KvCache.append', `${this.length} of ${this.capacity} steps are used; ${n} more do not fit`);
    }
    if (this.inPlace) this.write(x);
    else {
      const grown = tf.keep(tf.concat([this.buffer, x], 1));
      this.buffer.dispose();
      this.buffer = grown;
    }
    this.length += n;
  }

  /** Copies each row's `n` new steps to time `length` of the buffer. */
  private write(x: tf.Tensor3D): void {
    const [B, n, D] = x.shape;
    const rowFrom = n * D;
    const rowTo = this.capacity * D;
    const at = this.length * D;
    const src = floatView(x);
    const dst = floatView(this.buffer);
    if (!src || !dst) throw new ShapeError('KvCache.append', `in-place writes need the wasm or cpu backend (now ${tf.getBackend()})`);
    for (let b = 0; b < B; b++) dst.set(src.subarray(b * rowFrom, (b + 1) * rowFrom), b * rowTo + at);
  }

  /** Keeps only batch rows `rows` (indices into the current rows), in that order. */
  retain(rows: readonly number[]): void {
    if (this.disposed) throw new ShapeError('KvCache.retain', 'the cache was disposed');
    const bad = rows.findIndex((r) => !Number.isInteger(r) || r < 0 || r >= this.batch);
    if (bad >= 0) throw new ShapeError('KvCache.retain', `rows[${bad}] = ${rows[bad]} is not a row of ${this.batch}`);
    const kept = tf.tidy(() => tf.gather(this.buffer, tf.tensor1d(Array.from(rows), 'int32'), 0));
    this.buffer.dispose();
    this.buffer = tf.keep(kept);
    this.rows = rows.length;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.buffer.dispose();
  }
}
