import { z } from 'zod';

/** Sizes of the transformer policy. JSON-able; saved in checkpoints as `config`. */
export const transformerOptionsSchema = z
  .object({
    dModel: z.number().int().min(1).max(4096).default(64).describe('Width of the residual stream.'),
    nLayers: z.number().int().min(1).max(64).default(2).describe('Number of transformer blocks.'),
    nHeads: z.number().int().min(1).max(256).default(4).describe('Attention heads; must divide dModel.'),
    dFF: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Hidden width of the MLP; default 4 × dModel.'),
    maxSeqLen: z
      .number()
      .int()
      .min(2)
      .max(8192)
      .default(64)
      .describe('Longest sequence (prompt + response) the model accepts.'),
    positions: z
      .enum(['learned', 'rotary'])
      .default('learned')
      .describe("Position encoding: 'learned' absolute embeddings or 'rotary' (RoPE, rotate-half)."),
    seed: z.number().int().min(0).max(0xffffffff).default(0).describe('Seed of the weight initialisation.'),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.dModel % o.nHeads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['nHeads'], message: `must divide dModel (${o.dModel})` });
    } else if (o.positions === 'rotary' && (o.dModel / o.nHeads) % 2 !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['nHeads'],
        message: `rotary positions need an even head size; dModel / nHeads = ${o.dModel / o.nHeads}`,
      });
    }
  })
  .transform((o) => ({ ...o, dFF: o.dFF ?? 4 * o.dModel }));

export type TransformerOptions = z.input<typeof transformerOptionsSchema>;
/** Resolved sizes (all defaults filled). */
export type TransformerConfig = z.output<typeof transformerOptionsSchema>;
