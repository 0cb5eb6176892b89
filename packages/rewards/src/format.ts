import { defineComponent } from '@rftkit/core';
import type { RewardFunction } from '@rftkit/core';
import { z } from 'zod';

export const formatSchema = z
  .strictObject({
    pattern: z.string().optional().describe('Regular expression the completion must match (anchor it yourself).'),
    flags: z.string().default('').describe("RegExp flags for `pattern`, e.g. 's' so '.' matches newlines."),
    tags: z
      .array(z.string().regex(/^[A-Za-z][\w-]*$/, 'a tag name: letters, digits, _ or -'))
      .optional()
      .describe('Tags that must each appear exactly once as <tag>...</tag>, in this order.'),
    score: z.number().default(1).describe('Score when the format is right.'),
    mismatchScore: z.number().default(0).describe('Score otherwise.'),
  })
  .superRefine((o, ctx) => {
    if (o.pattern === undefined && !o.tags?.length) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'give a `pattern` or a non-empty `tags` list' });
    }
    if (o.pattern !== undefined) {
      try {
        new RegExp(o.pattern, o.flags);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['pattern'], message: `not a valid regular expression: ${(e as Error).message}` });
      }
    }
  });
export type FormatOptions = z.input<typeof formatSchema>;

function hasTags(text: string, tags: readonly string[]): boolean {
  let from = 0;
  for (const tag of tags) {
    const open = `<${tag}>`;
    const close = `</${tag}>`;
    if (text.split(open).length !== 2 || text.split(close).length !== 2) return false;
    const start = text.indexOf(open);
    const end = text.indexOf(close);
    if (start < from || end < start + open.length) return false;
    from = end + close.length;
  }
  return true;
}

export const formatDefinition = defineComponent({
  id: 'format',
  family: 'reward',
  description: 'Completion matches a regex and/or contains required <tag>...</tag> blocks in order.',
  schema: formatSchema,
  build: (o): RewardFunction => {
    const re = o.pattern === undefined ? undefined : new RegExp(o.pattern, o.flags.replace(/g/g, ''));
    return {
      id: 'format',
      score: (inputs) =>
        inputs.map(({ completion }) =>
          (!re || re.test(completion)) && (!o.tags || hasTags(completion, o.tags)) ? o.score : o.mismatchScore,
        ),
    };
  },
});

export const createFormatReward = (options?: FormatOptions): RewardFunction => formatDefinition.create(options);
