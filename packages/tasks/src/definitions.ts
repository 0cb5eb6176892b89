import type { ComponentDefinition } from '@rftkit/core';
import { arithmeticDefinition } from './arithmetic';
import { countdownDefinition } from './countdown';
import { gsm8kDefinition } from './gsm8k';
import { jsonlTaskDefinition } from './jsonl';
import { sortDigitsDefinition } from './sort-digits';

/** Every built-in task (family 'task'), for the runner's registry. */
export const taskDefinitions: ComponentDefinition[] = [countdownDefinition, arithmeticDefinition, sortDigitsDefinition, gsm8kDefinition, jsonlTaskDefinition];
