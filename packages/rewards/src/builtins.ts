import type { ComponentDefinition } from '@rftkit/core';
import { boxedMathDefinition } from './boxed-math';
import { exactMatchDefinition } from './exact-match';
import { formatDefinition } from './format';
import { lengthPenaltyDefinition } from './length-penalty';
import { numericMatchDefinition } from './numeric-match';
import { overlongPenaltyDefinition } from './overlong-penalty';
import { repetitionPenaltyDefinition } from './repetition-penalty';

/** The single (non-composite) built-in rewards. */
export const basicRewardDefinitions: ComponentDefinition[] = [
  exactMatchDefinition,
  numericMatchDefinition,
  boxedMathDefinition,
  formatDefinition,
  overlongPenaltyDefinition,
  lengthPenaltyDefinition,
  repetitionPenaltyDefinition,
];
