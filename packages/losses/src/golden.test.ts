import { readFileSync } from 'node:fs';
import { type PolicyLoss, Registry } from '@rftkit/core';
import { describeBackends, expectAllClose, expectNoLeaks } from '@rftkit/tensor/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import {
  type AggregationMode,
  aggregationDefinitions,
  createKlEstimator,
  type KlEstimatorName,
  klTokenRewards,
  policyLossDefinitions,
} from './index';

// Produced by __fixtures__/generate.py (PyTorch, float64, verl's formulas).
const g = JSON.parse(readFileSync(new URL('./__fixtures__/golden.json', import.meta.url), 'utf8')) as {
  rows: number;
  seqLen: number;
  logp: number[];
  oldLogp: number[];
  refLogp: number[];
  advantages: number[];
  mask: number[];
  losses: Array<{ id: string; options: Record<string, unknown>; tokenLoss: number[]; grad: number[]; metrics: Record<string, number> }>;
  tokenLoss: number[];
  context: { totalTokens: number; totalSequences: number; maxResponseLength: number };
  aggregations: Array<{ mode: AggregationMode; value: number; grad: number[] }>;
  kl: Array<{ estimator: KlEstimatorName; clamp: number; valueClamp: number | false; value: number[]; grad: number[]; tokenRewards: number[] }>;
  klRewardCoef: number;
};
const shape: [number, number] = [g.rows, g.seqLen];
const t2 = (x: number[]) => tf.tensor2d(x, shape);
const tol = { atol: 1e-4, rtol: 1e-4 };
// The losses and KL clamp added against verl's newer formulas are held to 1e-5.
const tight = { atol: 1e-5, rtol: 1e-5 };
const tolFor = (id: string) => (id === 'sapo' || id === 'gmpo' ? tight : tol);

describeBackends('policy losses match the PyTorch reference (values and d/dlogp)', () => {
  const losses = new Registry<PolicyLoss>('loss', policyLossDefinitions);
  for (const e of g.losses) {
    it(`${e.id} ${JSON.stringify(e.options)}`, async () => {
      const loss = losses.create({ use: e.id, with: e.options });
      const [logp, oldLogp, advantages, mask] = [g.logp, g.oldLogp, g.advantages, g.mask].map(t2) as tf.Tensor2D[];
      const out = await expectNoLeaks(
        () => {
          const { tokenLoss, metrics } = loss.compute({ logp: logp!, oldLogp: oldLogp!, advantages: advantages!, mask: mask! });
          const grad = tf.grad((lp: tf.Tensor) => {
            const o = loss.compute({ logp: lp as tf.Tensor2D, oldLogp: oldLogp!, advantages: advantages!, mask: mask! });
            return tf.sum(o.tokenLoss);
          })(logp!);
          const m = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, v.dataSync()[0]!]));
          const res = { tokenLoss: tokenLoss.dataSync().slice(), grad: grad.dataSync().slice(), metrics: m };
          tf.dispose([tokenLoss, grad, ...Object.values(metrics)]);
          return res;
        },
        { label: e.id },
      );
      expectAllClose(out.tokenLoss, e.tokenLoss, { ...tolFor(e.id), label: `${e.id} value` });
      expectAllClose(out.grad, e.grad, { ...tolFor(e.id), label: `${e.id} grad` });
      expect(Object.keys(out.metrics).sort()).toEqual(Object.keys(e.metrics).sort());
      for (const [k, v] of Object.entries(e.metrics)) {
        expectAllClose([out.metrics[k]!], [v], { atol: 1e-5, rtol: 1e-4, label: `${e.id} ${k}` });
      }
      tf.dispose([logp!, oldLogp!, advantages!, mask!]);
    });
  }
});

describeBackends('aggregation matches the PyTorch reference (value and d/dL)', () => {
  const aggs = new Registry<{ aggregate: (l: tf.Tensor2D, m: tf.Tensor2D, c: typeof g.context) => tf.Scalar }>(
    'aggregation',
    aggregationDefinitions,
  );
  for (const e of g.aggregations) {
    it(e.mode, async () => {
      const agg = aggs.create(e.mode);
      const [L, mask] = [g.tokenLoss, g.mask].map(t2) as tf.Tensor2D[];
      const out = await expectNoLeaks(() => {
        const { value, grad } = tf.valueAndGrad((l: tf.Tensor) => agg.aggregate(l as tf.Tensor2D, mask!, g.context))(L!);
        const res = { value: value.dataSync()[0]!, grad: grad.dataSync().slice() };
        tf.dispose([value, grad]);
        return res;
      });
      expectAllClose([out.value], [e.value], { ...tol, label: `${e.mode} value` });
      expectAllClose(out.grad, e.grad, { ...tol, label: `${e.mode} grad` });
      tf.dispose([L!, mask!]);
    });
  }
});

describeBackends('KL estimators match the PyTorch reference (values and d/dlogp)', () => {
  for (const e of g.kl) {
    it(`${e.estimator} clamp=${e.clamp} valueClamp=${e.valueClamp}`, async () => {
      const kl = createKlEstimator({ estimator: e.estimator, clamp: e.clamp, valueClamp: e.valueClamp });
      const [logp, ref, mask] = [g.logp, g.refLogp, g.mask].map(t2) as tf.Tensor2D[];
      const out = await expectNoLeaks(() => {
        const v = kl.compute(logp!, ref!);
        const grad = tf.grad((lp: tf.Tensor) => tf.sum(tf.mul(kl.compute(lp as tf.Tensor2D, ref!), mask!)))(logp!);
        const res = { value: v.dataSync().slice(), grad: grad.dataSync().slice() };
        tf.dispose([v, grad]);
        return res;
      });
      // Values are compared on the response tokens: outside it the fixture holds garbage
      // log-probs whose exp() overflows float32 but never float64.
      const onMask = (x: ArrayLike<number>) => Array.from(x).filter((_, i) => g.mask[i]! > 0);
      expectAllClose(onMask(out.value), onMask(e.value), { ...tol, label: `${e.estimator} value` });
      expectAllClose(out.grad, e.grad, { ...tol, label: `${e.estimator} grad` });
      const rewards = klTokenRewards(g.logp, g.refLogp, g.mask, {
        coef: g.klRewardCoef,
        estimator: e.estimator,
        clamp: e.clamp,
        valueClamp: e.valueClamp,
      });
      expectAllClose(rewards, e.tokenRewards, { ...tol, label: `${e.estimator} token rewards` });
      tf.dispose([logp!, ref!, mask!]);
    });
  }
});
