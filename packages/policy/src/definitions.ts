import { type ComponentDefinition, defineComponent } from '@rftkit/core';
import { z } from 'zod';
import { checkTransformerSizes, resolveSizes, transformerOptionsShape } from './options';
import { createTransformerPolicy } from './policy';
import { createCharTokenizer } from './tokenizer';

/** Options of the `transformer` policy component: model sizes plus the character alphabet. */
export const transformerPolicySchema = z
  .strictObject({
    ...transformerOptionsShape,
    alphabet: z.string().min(1).describe('Characters of the char tokenizer (ids 3… in order; pad 0, bos 1, eos 2).'),
  })
  .superRefine(checkTransformerSizes)
  .transform(resolveSizes);

export const transformerPolicyDefinition = defineComponent({
  id: 'transformer',
  family: 'policy',
  description: 'Decoder-only causal transformer LM over a character vocabulary (learned or rotary positions).',
  schema: transformerPolicySchema,
  build: ({ alphabet, ...sizes }) => createTransformerPolicy({ ...sizes, tokenizer: createCharTokenizer({ alphabet }) }),
});

export const policyDefinitions: ComponentDefinition[] = [transformerPolicyDefinition as ComponentDefinition];
