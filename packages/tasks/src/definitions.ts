import type { ComponentDefinition } from '@rftkit/core';
import { arithmeticDefinition } from './arithmetic';
import { countdownDefinition } from './countdown';
import { jsonlTaskDefinition } from './jsonl';
import { sortDigitsDefinition } from './sort-digits';

/** Every built-in task (family 'task'), for the runner's registry. */
export const taskDefinitions: ComponentDefinition[] = [countdownDefinition, arithmeticDefinition, sortDigitsDefinition, jsonlTaskDefinition];
