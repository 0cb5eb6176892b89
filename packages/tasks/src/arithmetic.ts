import { type Rng, defineComponent } from '@rftkit/core';
import type { PromptRecord, RewardFunction, Task } from '@rftkit/core';
import { type ArithmeticNode, Rational, RewardError, evaluateExpression, parseArithmetic } from '@rftkit/rewards';
import { z } from 'zod';
import { type Expr, type Op, atom, combine } from './expression';
import { generateDistinct, testFractionSchema } from './split';

export const arithmeticSchema = z
  .strictObject({
    operands: z.number().int().min(2).max(6).default(3).describe('Numbers per expression.'),
    maxOperand: z.number().int().min(1).max(99).default(9).describe('Operands are drawn from [0, maxOperand].'),
    ops: z
      .string()
      .regex(/^[+\-*]+$/, "only '+', '-' and '*' (answers stay integers)")
      .default('+-*')
      .describe('Operators to draw from.'),
    parentheses: z.boolean().default(true).describe('Random expression trees (with parentheses) rather than flat chains.'),
    worked: z
      .boolean()
      .default(false)
      .describe("solve() shows the steps: '(7+5)*3-4=' → '12*3-4=36-4=32' instead of '32'."),
    testFraction: testFractionSchema,
  });
export type ArithmeticOptions = z.input<typeof arithmeticSchema>;

export const ARITHMETIC_ALPHABET = '0123456789+-*()=';

type Node = { leaf: Rational } | { op: Op; left: Node; right: Node };

function randomTree(rng: Rng, n: number, ops: string, maxOperand: number, nested: boolean): Node {
  if (n === 1) return { leaf: Rational.of(rng.int(maxOperand + 1)) };
  // A flat chain only grows to the left; the renderer then needs no parentheses.
  const leftSize = nested ? 1 + rng.int(n - 1) : n - 1;
  return {
    op: ops[rng.int(ops.length)] as Op,
    left: randomTree(rng, leftSize, ops, maxOperand, nested),
    right: randomTree(rng, n - leftSize, ops, maxOperand, nested),
  };
}

function render(node: Node): Expr {
  if ('leaf' in node) return atom(node.leaf);
  return combine(node.op, render(node.left), render(node.right))!;
}

// The prompt's own parse tree, so worked steps follow the usual evaluation order.
function toTree(node: ArithmeticNode | undefined): Node | undefined {
  if (!node || node.type === 'neg') return undefined;
  if (node.type === 'num') return { leaf: node.value };
  if (node.op === '/') return undefined;
  const left = toTree(node.left);
  const right = toTree(node.right);
  return left && right ? { op: node.op, left, right } : undefined;
}

// Reduces the first operation (in evaluation order) whose operands are both numbers.
function step(node: Node): Node {
  if ('leaf' in node) return node;
  if ('leaf' in node.left && 'leaf' in node.right) return { leaf: render(node).value };
  if (!('leaf' in node.left)) return { ...node, left: step(node.left) };
  return { ...node, right: step(node.right) };
}

function workedSolution(tree: Node): string {
  const parts: string[] = [];
  for (let t = step(tree); ; t = step(t)) {
    parts.push(render(t).text.replace(/^\((-\d+)\)$/, '$1'));
    if ('leaf' in t) return parts.join('=');
  }
}

/** `(7+5)*3-4=` → '(7+5)*3-4'; undefined if it is not an arithmetic prompt. */
export function parseArithmeticPrompt(prompt: string): string | undefined {
  return /^[\d+\-*()]+=$/.test(prompt) ? prompt.slice(0, -1) : undefined;
}

/** The final answer of a completion: the text after its last '=' (or all of it), trimmed. */
export function finalAnswer(completion: string): string {
  return completion.slice(completion.lastIndexOf('=') + 1).trim();
}

/** Verifier: 1 when the final answer is an integer literal equal to the prompt's value. */
export function arithmeticReward(): RewardFunction {
  return {
    id: 'arithmetic',
    score: (inputs) =>
      inputs.map(({ prompt, completion }) => {
        const expr = parseArithmeticPrompt(prompt.prompt);
        const value = expr === undefined ? undefined : evaluateExpression(expr);
        if (!value) throw new RewardError('arithmetic', `prompt '${prompt.id}' is not an arithmetic prompt ('(7+5)*3-4='): '${prompt.prompt}'`);
        const answer = finalAnswer(completion);
        return /^-?\d+$/.test(answer) && Rational.of(BigInt(answer)).equals(value) ? 1 : 0;
      }),
  };
}

export const arithmeticDefinition = defineComponent({
  id: 'arithmetic',
  family: 'task',
  description: "Multi-step integer arithmetic: '(7+5)*3-4=' → '32' (exact match of the final answer).",
  schema: arithmeticSchema,
  build: (o): Task => {
    return {
      id: 'arithmetic',
      description: `Integer arithmetic with ${o.operands} operands in [0, ${o.maxOperand}] and operators '${o.ops}'.`,
      generate: (split, count, seed) =>
        generateDistinct({
          task: 'arithmetic',
          split,
          count,
          seed,
          testFraction: o.testFraction,
          draw: (rng) => {
            const tree = randomTree(rng, o.operands, o.ops, o.maxOperand, o.parentheses);
            const e = render(tree);
            const record: PromptRecord = {
              id: `arithmetic:${e.text}`,
              prompt: `${e.text}=`,
              reference: e.value.toString(),
            };
            return { splitKey: e.text, propose: () => ({ key: e.text, record }) };
          },
        }),
      reward: arithmeticReward,
      solve: (prompt) => {
        const expr = parseArithmeticPrompt(prompt.prompt);
        if (expr === undefined) return undefined;
        const tree = toTree(parseArithmetic(expr));
        if (!tree) return undefined;
        return o.worked ? workedSolution(tree) : render(tree).value.toString();
      },
      alphabet: () => ARITHMETIC_ALPHABET,
    };
  },
});

export const createArithmeticTask = (options?: ArithmeticOptions): Task => arithmeticDefinition.create(options);
