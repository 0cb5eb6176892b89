import { z } from 'zod';

/** Fields of the transformer sizes (before cross-field checks), for schemas that extend them. */
export const transformerOptionsShape = {
  dModel: z.number().int().min(1).max(4096).default(64).describe('Width of the residual stream.'),
  nLayers: z.number().int().min(1).max(64).default(2).describe('Number of transformer blocks.'),
  nHeads: z.number().int().min(1).max(256).default(4).describe('Attention heads; must divide dModel.'),
  dFF: z.number().int().min(1).optional().describe('Hidden width of the MLP; default 4 × dModel.'),
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
};

type Sizes = z.output<z.ZodObject<typeof transformerOptionsShape>>;

/** Cross-field checks: heads divide the width; rotary needs an even head size. */
export function checkTransformerSizes(o: Sizes, ctx: z.RefinementCtx): void {
  if (o.dModel % o.nHeads !== 0) {
    ctx.addIssue({ code: 'custom', path: ['nHeads'], message: `must divide dModel (${o.dModel})` });
  } else if (o.positions === 'rotary' && (o.dModel / o.nHeads) % 2 !== 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['nHeads'],
      message: `rotary positions need an even head size; dModel / nHeads = ${o.dModel / o.nHeads}`,
    });
  }
}

/** Fills `dFF` = 4 × dModel when unset. */
export const resolveSizes = <T extends Sizes>(o: T): T & { dFF: number } => ({ ...o, dFF: o.dFF ?? 4 * o.dModel });

/** Sizes of the transformer policy. JSON-able; saved in checkpoints as `config`. */
export const transformerOptionsSchema = z
  .strictObject(transformerOptionsShape)
  .superRefine(checkTransformerSizes)
  .transform(resolveSizes);

export type TransformerOptions = z.input<typeof transformerOptionsSchema>;
/** Resolved sizes (all defaults filled). */
export type TransformerConfig = z.output<typeof transformerOptionsSchema>;
