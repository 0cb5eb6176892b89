import * as tf from '@tensorflow/tfjs-core';
import type { HostTokenStats, Policy, RolloutBatch } from '@rftkit/core';

/**
 * Per-token log-probs and exact entropies of a batch's tokens under `policy` at
 * `temperature`, as host arrays `[rows * seqLen]`. Runs `chunkRows` rows per forward so
 * memory stays bounded on large batches.
 */
export function hostTokenStats(
  policy: Policy,
  batch: Pick<RolloutBatch, 'rows' | 'seqLen' | 'tokens' | 'attentionMask'>,
  temperature = 1,
  chunkRows = 16,
): HostTokenStats {
  const { rows, seqLen } = batch;
  const logp = new Float32Array(rows * seqLen);
  const entropy = new Float32Array(rows * seqLen);
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    const n = Math.min(chunkRows, rows - r0);
    const [lp, en] = tf.tidy(() => {
      const tokens = tf.tensor2d(batch.tokens.subarray(r0 * seqLen, (r0 + n) * seqLen), [n, seqLen], 'int32');
      const attentionMask = tf.tensor2d(batch.attentionMask.subarray(r0 * seqLen, (r0 + n) * seqLen), [n, seqLen]);
      const stats = policy.tokenStats({ tokens, attentionMask }, { temperature });
      return [stats.logp.dataSync(), stats.entropy.dataSync()];
    });
    logp.set(lp as Float32Array, r0 * seqLen);
    entropy.set(en as Float32Array, r0 * seqLen);
  }
  return { logp, entropy };
}
