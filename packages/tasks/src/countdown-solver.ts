import { type ArithmeticNode, Rational, evaluateArithmetic, parseArithmetic } from '@rftkit/rewards';
import { type Expr, OPS, atom, combine } from './expression';

/** Every non-empty proper sub-mask of `mask`. */
function* subMasks(mask: number): Generator<number> {
  for (let s = (mask - 1) & mask; s > 0; s = (s - 1) & mask) yield s;
}

/** Distinct values (by exact value) of all expressions using each number of the full set once. */
export function reachableValues(numbers: readonly number[]): Rational[] {
  const memo = new Map<number, Map<string, Rational>>();
  const values = (mask: number): Map<string, Rational> => {
    const hit = memo.get(mask);
    if (hit) return hit;
    const out = new Map<string, Rational>();
    if ((mask & (mask - 1)) === 0) {
      const v = Rational.of(numbers[31 - Math.clz32(mask)]!);
      out.set(v.toString(), v);
    } else {
      for (const l of subMasks(mask)) {
        const left = values(l);
        const right = values(mask ^ l);
        for (const a of left.values()) {
          for (const b of right.values()) {
            for (const v of [a.add(b), a.sub(b), a.mul(b), a.div(b)]) if (v) out.set(v.toString(), v);
          }
        }
      }
    }
    memo.set(mask, out);
    return out;
  };
  return [...values((1 << numbers.length) - 1).values()];
}

/**
 * Every distinct expression string (minimal parentheses, see `combine`) that uses each of
 * `numbers` exactly once with `+ - * /` and equals `target`, sorted.
 */
export function enumerateCountdownSolutions(numbers: readonly number[], target: number): string[] {
  const goal = Rational.of(target);
  const memo = new Map<number, Expr[]>();
  const exprs = (mask: number): Expr[] => {
    const hit = memo.get(mask);
    if (hit) return hit;
    let out: Expr[] = [];
    if ((mask & (mask - 1)) === 0) {
      out = [atom(Rational.of(numbers[31 - Math.clz32(mask)]!))];
    } else {
      const seen = new Set<string>();
      for (const l of subMasks(mask)) {
        for (const a of exprs(l)) {
          for (const b of exprs(mask ^ l)) {
            for (const op of OPS) {
              const e = combine(op, a, b);
              if (e && !seen.has(e.text)) {
                seen.add(e.text);
                out.push(e);
              }
            }
          }
        }
      }
    }
    memo.set(mask, out);
    return out;
  };
  return exprs((1 << numbers.length) - 1)
    .filter((e) => e.value.equals(goal))
    .map((e) => e.text)
    .sort();
}

function leaves(node: ArithmeticNode, out: string[]): boolean {
  if (node.type === 'num') {
    out.push(node.text);
    return true;
  }
  if (node.type === 'neg') return false; // only binary + - * / are allowed
  return leaves(node.left, out) && leaves(node.right, out);
}

/**
 * Whether `answer` is a countdown solution: only `+ - * /`, parentheses and the given
 * numbers (each exactly once, written plainly: no signs, decimals or leading zeros),
 * evaluating exactly to `target` with no division by zero anywhere.
 */
export function verifyCountdown(answer: string, numbers: readonly number[], target: number): boolean {
  // Signs are not allowed: unary minus is rejected by `leaves`, unary plus by the parser.
  const tree = parseArithmetic(answer.trim(), { unaryPlus: false });
  if (!tree) return false;
  const used: string[] = [];
  if (!leaves(tree, used)) return false;
  const given = numbers.map(String).sort();
  used.sort();
  if (used.length !== given.length || used.some((u, i) => u !== given[i])) return false;
  const value = evaluateArithmetic(tree);
  return value?.equals(Rational.of(target)) === true;
}
