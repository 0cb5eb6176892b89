import { defineComponent } from '@rftkit/core';
import type { PromptRecord, RewardFunction, Task } from '@rftkit/core';
import { RewardError } from '@rftkit/rewards';
import { z } from 'zod';
import { memoize } from './cache';
import { enumerateCountdownSolutions, reachableValues, verifyCountdown } from './countdown-solver';
import { generateDistinct, testFractionSchema } from './split';

export const countdownSchema = z
  .strictObject({
    numbers: z.number().int().min(3).max(4).default(3).describe('How many numbers each problem gives (3 or 4).'),
    minNumber: z.number().int().min(1).max(99).default(1).describe('Smallest given number.'),
    maxNumber: z.number().int().min(1).max(99).default(12).describe('Largest given number.'),
    minTarget: z.number().int().min(1).max(999).default(1).describe('Smallest target.'),
    maxTarget: z.number().int().min(1).max(999).default(50).describe('Largest target.'),
    testFraction: testFractionSchema,
  })
  .refine((o) => o.minNumber <= o.maxNumber, { path: ['maxNumber'], message: 'must be ≥ minNumber' })
  .refine((o) => o.minTarget <= o.maxTarget, { path: ['maxTarget'], message: 'must be ≥ minTarget' });
export type CountdownOptions = z.input<typeof countdownSchema>;

export const COUNTDOWN_ALPHABET = '0123456789 >:+-*/()';

/** `3 5 8>19:` → numbers [3, 5, 8], target 19. */
export function formatCountdownPrompt(numbers: readonly number[], target: number): string {
  return `${numbers.join(' ')}>${target}:`;
}

export function parseCountdownPrompt(prompt: string): { numbers: number[]; target: number } | undefined {
  const m = /^(\d+(?: \d+)+)>(\d+):$/.exec(prompt);
  if (!m) return undefined;
  return { numbers: m[1]!.split(' ').map(Number), target: Number(m[2]) };
}

const solutionsOf = memoize(4096, (prompt: string) => {
  const p = parseCountdownPrompt(prompt);
  return p ? enumerateCountdownSolutions(p.numbers, p.target) : [];
});

/** The countdown verifier as a reward: 1 for a valid expression reaching the target, else 0. */
export function countdownReward(): RewardFunction {
  return {
    id: 'countdown',
    score: (inputs) =>
      inputs.map(({ prompt, completion }) => {
        const p = parseCountdownPrompt(prompt.prompt);
        if (!p) throw new RewardError('countdown', `prompt '${prompt.id}' is not a countdown prompt ('3 5 8>19:'): '${prompt.prompt}'`);
        return verifyCountdown(completion, p.numbers, p.target) ? 1 : 0;
      }),
  };
}

export const countdownDefinition = defineComponent({
  id: 'countdown',
  family: 'task',
  description: 'Reach a target with + - * / using each given number once (many valid answers).',
  schema: countdownSchema,
  build: (o): Task => {
    const targetsOf = memoize(4096, (key: string) =>
      reachableValues(key.split(',').map(Number))
        .filter((v) => v.isInteger() && v.num >= BigInt(o.minTarget) && v.num <= BigInt(o.maxTarget))
        .map((v) => Number(v.num))
        .sort((a, b) => a - b),
    );
    return {
      id: 'countdown',
      description: `Countdown with ${o.numbers} numbers in [${o.minNumber}, ${o.maxNumber}] and targets in [${o.minTarget}, ${o.maxTarget}]: prompt '3 5 8>19:', answer e.g. '3*5-8' (any valid expression).`,
      generate: (split, count, seed) =>
        generateDistinct({
          task: 'countdown',
          split,
          count,
          seed,
          testFraction: o.testFraction,
          draw: (rng) => {
            const numbers = Array.from({ length: o.numbers }, () => o.minNumber + rng.int(o.maxNumber - o.minNumber + 1));
            const splitKey = [...numbers].sort((a, b) => a - b).join(',');
            return {
              splitKey,
              propose: () => {
                const targets = targetsOf(splitKey);
                if (targets.length === 0) return undefined;
                const target = targets[rng.int(targets.length)]!;
                const prompt = formatCountdownPrompt(numbers, target);
                const record: PromptRecord = {
                  id: `countdown:${numbers.join('-')}>${target}`,
                  prompt,
                  reference: solutionsOf(prompt)[0]!,
                  metadata: { numbers, target },
                };
                return { key: `${splitKey}>${target}`, record };
              },
            };
          },
        }),
      reward: countdownReward,
      solve: (prompt, random) => {
        const all = solutionsOf(prompt.prompt);
        return all.length ? all[Math.min(all.length - 1, Math.floor(random() * all.length))] : undefined;
      },
      alphabet: () => COUNTDOWN_ALPHABET,
    };
  },
});

export const createCountdownTask = (options?: CountdownOptions): Task => countdownDefinition.create(options);
