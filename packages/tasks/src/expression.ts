import type { Rational } from '@rftkit/rewards';

export type Op = '+' | '-' | '*' | '/';

/** An expression rendered as text, with its exact value and the precedence of its top operator. */
export interface Expr {
  text: string;
  value: Rational;
  /** 3 = atom, 2 = `*` or `/`, 1 = `+` or `-`. */
  prec: 1 | 2 | 3;
}

export function atom(n: Rational): Expr {
  return { text: n.num < 0n ? `(${n})` : n.toString(), value: n, prec: 3 };
}

/**
 * `left op right` with the fewest parentheses that keep its value. A right operand of
 * `+` or `*` never needs them (a+(b−c) = a+b−c and a·(b/c) = a·b/c exactly), so
 * expressions that differ only by such brackets render to one string. Undefined when it
 * divides by zero.
 */
export function combine(op: Op, left: Expr, right: Expr): Expr | undefined {
  const wrap = (e: Expr, needs: boolean) => (needs ? `(${e.text})` : e.text);
  let value: Rational | undefined;
  let text: string;
  if (op === '+') {
    value = left.value.add(right.value);
    text = `${left.text}+${right.text}`;
  } else if (op === '-') {
    value = left.value.sub(right.value);
    text = `${left.text}-${wrap(right, right.prec === 1)}`;
  } else if (op === '*') {
    value = left.value.mul(right.value);
    text = `${wrap(left, left.prec === 1)}*${wrap(right, right.prec === 1)}`;
  } else {
    value = left.value.div(right.value);
    text = `${wrap(left, left.prec === 1)}/${wrap(right, right.prec <= 2)}`;
  }
  return value && { text, value, prec: op === '+' || op === '-' ? 1 : 2 };
}

export const OPS: readonly Op[] = ['+', '-', '*', '/'];
