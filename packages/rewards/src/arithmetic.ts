import { Rational } from './rational';

/** A parsed arithmetic expression. `text` of a number is its literal as written. */
export type ArithmeticNode =
  | { type: 'num'; text: string; value: Rational }
  | { type: 'neg'; arg: ArithmeticNode }
  | { type: 'bin'; op: '+' | '-' | '*' | '/'; left: ArithmeticNode; right: ArithmeticNode };

/**
 * Parses `+ - * /`, parentheses, unary minus and decimal literals with the usual
 * precedence (left-associative). Spaces are ignored. Returns undefined on any syntax
 * error, so verifiers can treat garbage as simply wrong.
 */
export function parseArithmetic(text: string): ArithmeticNode | undefined {
  const s = text.replace(/\s+/g, '');
  let i = 0;
  const peek = () => s[i];

  function primary(): ArithmeticNode | undefined {
    const c = peek();
    if (c === '(') {
      i++;
      const e = expr();
      if (!e || peek() !== ')') return undefined;
      i++;
      return e;
    }
    if (c === '-' || c === '+') {
      i++;
      const arg = primary();
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
