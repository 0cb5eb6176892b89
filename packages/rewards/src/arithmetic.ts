import { Rational } from './rational';

/** A parsed arithmetic expression. `text` of a number is its literal as written. */
export type ArithmeticNode =
  | { type: 'num'; text: string; value: Rational }
  | { type: 'neg'; arg: ArithmeticNode }
  | { type: 'bin'; op: '+' | '-' | '*' | '/'; left: ArithmeticNode; right: ArithmeticNode };

/** Longest expression `parseArithmetic` reads (characters, spaces removed). */
export const MAX_EXPRESSION_CHARS = 2000;
/** Deepest nesting of parentheses and unary signs `parseArithmetic` accepts. */
export const MAX_EXPRESSION_DEPTH = 64;

/**
 * Parses `+ - * /`, parentheses, unary minus and decimal literals with the usual
 * precedence (left-associative). Spaces are ignored. Returns undefined on any syntax
 * error, so verifiers can treat garbage as simply wrong, and on input beyond
 * `MAX_EXPRESSION_CHARS` / `MAX_EXPRESSION_DEPTH`. `unaryPlus: false` rejects `+x`.
 */
export function parseArithmetic(text: string, options: { unaryPlus?: boolean } = {}): ArithmeticNode | undefined {
  const s = text.replace(/\s+/g, '');
  if (s.length > MAX_EXPRESSION_CHARS) return undefined;
  const unaryPlus = options.unaryPlus ?? true;
  let i = 0;
  let depth = 0;
  const peek = () => s[i];

  function primary(): ArithmeticNode | undefined {
    const c = peek();
    // Recursion depth is bounded so deeply nested input fails instead of overflowing the stack.
    if (depth > MAX_EXPRESSION_DEPTH) return undefined;
    if (c === '(') {
      i++;
      depth++;
      const e = expr();
      depth--;
      if (!e || peek() !== ')') return undefined;
      i++;
      return e;
    }
    if (c === '-' || (c === '+' && unaryPlus)) {
      i++;
      depth++;
      const arg = primary();
      depth--;
      if (!arg) return undefined;
      return c === '-' ? { type: 'neg', arg } : arg;
    }
    const m = /^(?:\d+(?:\.\d*)?|\.\d+)/.exec(s.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    const value = Rational.parseDecimal(m[0]);
    return value ? { type: 'num', text: m[0], value } : undefined;
  }

  function term(): ArithmeticNode | undefined {
    let left = primary();
    while (left && (peek() === '*' || peek() === '/')) {
      const op = s[i++] as '*' | '/';
      const right = primary();
      if (!right) return undefined;
      left = { type: 'bin', op, left, right };
    }
    return left;
  }

  function expr(): ArithmeticNode | undefined {
    let left = term();
    while (left && (peek() === '+' || peek() === '-')) {
      const op = s[i++] as '+' | '-';
      const right = term();
      if (!right) return undefined;
      left = { type: 'bin', op, left, right };
    }
    return left;
  }

  const tree = expr();
  return tree && i === s.length ? tree : undefined;
}

/** Exact value of a parsed expression; undefined when it divides by zero. */
export function evaluateArithmetic(node: ArithmeticNode): Rational | undefined {
  switch (node.type) {
    case 'num':
      return node.value;
    case 'neg':
      return evaluateArithmetic(node.arg)?.neg();
    case 'bin': {
      const a = evaluateArithmetic(node.left);
      const b = evaluateArithmetic(node.right);
      if (!a || !b) return undefined;
      if (node.op === '+') return a.add(b);
      if (node.op === '-') return a.sub(b);
      if (node.op === '*') return a.mul(b);
      return a.div(b);
    }
  }
}

/** Parses and evaluates; undefined on syntax error or division by zero. */
export function evaluateExpression(text: string): Rational | undefined {
  const tree = parseArithmetic(text);
  return tree ? evaluateArithmetic(tree) : undefined;
}
