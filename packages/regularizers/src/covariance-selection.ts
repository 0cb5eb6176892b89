import type { UpdateContext } from '@rftkit/core';
import { maskCount } from './covariance';

/** Picks token indices given the flat mask and the call's index within the step. */
export type ChooseTokens = (mask: ArrayLike<number>, call: number) => number[];

export interface SelectionTracker {
  /**
   * Runs `choose` for one `tokenLoss` call and returns a flat indicator (1 on the chosen
   * tokens). Counts restart on a new step, so the metrics describe the current step.
   */
  select(context: UpdateContext, choose: ChooseTokens): Float32Array;
  /** Tokens chosen so far this step. */
  readonly selected: number;
  /** Chosen tokens as a fraction of the masked tokens seen this step (0 when none). */
  readonly fraction: number;
}

/** Per-step bookkeeping shared by the covariance-selecting regularizers (Clip-Cov, KL-Cov). */
export function createSelectionTracker(): SelectionTracker {
  let step = -1;
  let call = 0;
  let selected = 0;
  let tokens = 0;
  return {
    select(context, choose) {
      if (context.step !== step) {
        step = context.step;
        call = 0;
        selected = 0;
        tokens = 0;
      }
      const mask = context.mask.dataSync();
      const idx = choose(mask, call++);
      selected += idx.length;
      tokens += maskCount(mask);
      const indicator = new Float32Array(mask.length);
      for (const i of idx) indicator[i] = 1;
      return indicator;
    },
    get selected() {
      return selected;
    },
    get fraction() {
      return tokens > 0 ? selected / tokens : 0;
    },
  };
}
