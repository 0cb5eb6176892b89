/**
 * Exact rational numbers over bigint. Verifiers compare answers exactly (`0.5 = 1/2`,
 * `(1+2)/3 = 1`), so float rounding never turns a right answer wrong or a wrong one right.
 */
function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** Longest decimal literal `parseDecimal` reads (characters); longer ones are not numbers. */
export const MAX_DECIMAL_CHARS = 400;

export class Rational {
  readonly num: bigint;
  readonly den: bigint;

  private constructor(num: bigint, den: bigint) {
    this.num = num;
    this.den = den;
  }

  /** `num/den` in lowest terms with a positive denominator. Throws on a zero denominator. */
  static of(num: bigint | number, den: bigint | number = 1n): Rational {
    let n = BigInt(num);
    let d = BigInt(den);
    if (d === 0n) throw new RangeError('Rational: division by zero');
    if (d < 0n) {
      n = -n;
      d = -d;
    }
    const g = gcd(n, d) || 1n;
    return new Rational(n / g, d / g);
  }

  /** Parses a plain decimal literal (`12`, `-0.50`, `.5`, `1e-3`, `2.5E2`); undefined otherwise. */
  static parseDecimal(text: string): Rational | undefined {
    // Longer literals are nobody's answer and cost seconds of BigInt arithmetic.
    if (text.length > MAX_DECIMAL_CHARS) return undefined;
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
    if (!m) return undefined;
    const [, sign = '', int = '', frac = '', exp] = m;
    if (int === '' && frac === '') return undefined;
    let num = BigInt((int || '0') + frac);
    let den = 10n ** BigInt(frac.length);
    if (exp !== undefined) {
      const e = Number(exp);
      if (Math.abs(e) > 400) return undefined; // not a value anyone means exactly
      if (e >= 0) num *= 10n ** BigInt(e);
      else den *= 10n ** BigInt(-e);
    }
    return Rational.of(sign === '-' ? -num : num, den);
  }

  add(o: Rational): Rational {
    return Rational.of(this.num * o.den + o.num * this.den, this.den * o.den);
  }
  sub(o: Rational): Rational {
    return Rational.of(this.num * o.den - o.num * this.den, this.den * o.den);
  }
  mul(o: Rational): Rational {
    return Rational.of(this.num * o.num, this.den * o.den);
  }
  /** Undefined when dividing by zero (an invalid expression, not an exception). */
  div(o: Rational): Rational | undefined {
    if (o.num === 0n) return undefined;
    return Rational.of(this.num * o.den, this.den * o.num);
  }
  neg(): Rational {
    return new Rational(-this.num, this.den);
  }
  equals(o: Rational): boolean {
    return this.num === o.num && this.den === o.den;
  }
  isInteger(): boolean {
    return this.den === 1n;
  }
  toNumber(): number {
    return Number(this.num) / Number(this.den);
  }
  toString(): string {
    return this.den === 1n ? this.num.toString() : `${this.num}/${this.den}`;
  }
}
