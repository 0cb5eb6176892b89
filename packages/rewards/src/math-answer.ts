import { evaluateExpression } from './arithmetic';
import type { Rational } from './rational';

function matchBraces(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++; // `\{` and `\}` are literal braces
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

/**
 * Content of the last `\boxed{...}` (or `\fbox{...}`) in `text`, braces matched so nested
 * groups like `\boxed{\frac{1}{2}}` survive; `\boxed 5` takes the next token. Undefined
 * when there is none or its braces never close.
 */
export function extractBoxed(text: string): string | undefined {
  const idx = Math.max(text.lastIndexOf('\\boxed'), text.lastIndexOf('\\fbox'));
  if (idx < 0) return undefined;
  let i = idx + (text.startsWith('\\boxed', idx) ? 6 : 5);
  if (text[i] === ' ' && text[i + 1] !== '{') {
    const m = /^ +([^\s$]+)/.exec(text.slice(i));
    return m?.[1];
  }
  while (text[i] === ' ') i++;
  if (text[i] !== '{') return undefined;
  const close = matchBraces(text, i);
  return close < 0 ? undefined : text.slice(i + 1, close);
}

// One argument of a TeX macro: a braced group or a single character.
function texArg(s: string, i: number): [string, number] | undefined {
  while (s[i] === ' ') i++;
  if (i >= s.length) return undefined;
  if (s[i] === '{') {
    const close = matchBraces(s, i);
    return close < 0 ? undefined : [s.slice(i + 1, close), close + 1];
  }
  return [s[i]!, i + 1];
}

function expandFracs(s: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const at = s.indexOf('\\frac', i);
    if (at < 0) return out + s.slice(i);
    const a = texArg(s, at + 5);
    const b = a && texArg(s, a[1]);
    if (!a || !b) return out + s.slice(i);
    out += `${s.slice(i, at)}(${expandFracs(a[0])})/(${expandFracs(b[0])})`;
    i = b[1];
  }
}

// `{5}` and `{{5}}` are TeX groups around 5.
function stripOuterBraces(s: string): string {
  while (s.startsWith('{') && matchBraces(s, 0) === s.length - 1) s = s.slice(1, -1);
  return s;
}

/** Longest answer (characters) `mathAnswersEqual` compares; longer ones score 0. */
export const MAX_ANSWER_CHARS = 1000;
/** Deepest nesting of `(`, `[` and `{` in an answer `mathAnswersEqual` compares. */
export const MAX_ANSWER_DEPTH = 64;

/** Why an answer is beyond the parser's limits, or undefined when it is within them. */
export function mathAnswerLimit(answer: string): string | undefined {
  if (answer.length > MAX_ANSWER_CHARS) return `longer than ${MAX_ANSWER_CHARS} characters`;
  let depth = 0;
  for (const c of answer) {
    if (c === '(' || c === '[' || c === '{') {
      if (++depth > MAX_ANSWER_DEPTH) return `nested deeper than ${MAX_ANSWER_DEPTH}`;
    } else if (c === ')' || c === ']' || c === '}') depth--;
  }
  return undefined;
}

function canonicalNumber(n: string): string {
  let [int = '', frac] = n.split('.');
  int = int.replace(/^0+(?=\d)/, '');
  if (frac !== undefined) frac = frac.replace(/0+$/, '');
  return frac ? `${int || '0'}.${frac}` : int || '0';
}

/**
 * Normalises a math answer for comparison: drops `$`, `\left`/`\right`, TeX spacing,
 * `\text{}` wrappers, all whitespace, a trailing period and thousands separators;
 * `\frac{a}{b}`, `\dfrac`, `\frac12` become `(a)/(b)`; numbers lose leading zeros and
 * trailing fractional zeros (`007` → `7`, `2.50` → `2.5`, `3.0` → `3`); redundant
 * parentheses around a single atom are removed, but not where they join it to a neighbour
 * (`92(60)` stays). TeX reads one token per bare macro argument, so `\frac331` is
 * `\frac{3}{3}1`, which is not a number (it matches neither 3/31 nor 1).
 */
export function normalizeMathAnswer(answer: string): string {
  let s = answer.trim();
  s = s.replace(/^\\\(|\\\)$/g, '').replace(/^\\\[|\\\]$/g, '');
  s = s.replace(/\$/g, '');
  s = s.replace(/\\left|\\right|\\displaystyle/g, '');
  s = s.replace(/\\[!,;: ]/g, '');
  s = s.replace(/\\[dt]frac/g, '\\frac');
  s = s.replace(/\\(?:text|mathrm|textbf|mbox)\{([^{}]*)\}/g, '$1');
  s = s.replace(/\s+/g, '');
  s = s.replace(/\.$/, '');
  if (/^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(s)) s = s.replace(/,/g, '');
  s = expandFracs(s);
  s = stripOuterBraces(s);
  // A number touching another digit or dot (`76.0.0`) is not one number: left as written.
  s = s.replace(/(?<![\d.])(?:\d+(?:\.\d*)?|\.\d+)(?![\d.])/g, canonicalNumber);
  // Parentheses around an atom go, unless they join it to a neighbour (`92(60)` ≠ `9260`).
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/(?<![\w.)])\((-?[\w.]+)\)(?![\w.(])/g, '$1');
  }
  return s;
}

/** Exact value of a normalised answer when it is a number or arithmetic of numbers. */
export function mathValue(normalized: string): Rational | undefined {
  return evaluateExpression(normalized);
}

/**
 * Whether two answers agree: numerically (exact rationals, or within `tolerance` relative
 * to max(1, |reference|)) when both parse as numbers, else as normalised strings.
 */
export function mathAnswersEqual(answer: string, reference: string, tolerance = 0): boolean {
  if (mathAnswerLimit(answer) || mathAnswerLimit(reference)) return false;
  const a = normalizeMathAnswer(answer);
  const b = normalizeMathAnswer(reference);
  if (a === '' || b === '') return false;
  const va = mathValue(a);
  const vb = mathValue(b);
  if (va && vb) {
    if (va.equals(vb)) return true;
    if (tolerance <= 0) return false;
    const x = va.toNumber();
    const y = vb.toNumber();
    return Math.abs(x - y) <= tolerance * Math.max(1, Math.abs(y));
  }
  return a === b;
}
