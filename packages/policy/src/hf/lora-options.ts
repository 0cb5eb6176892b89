// Options of LoRA adapters on a Hugging Face policy (`policy.with.lora`), with PEFT's
// meaning and defaults (peft.LoraConfig).
import { z } from 'zod';

/** The module names LoRA can target (the families' linear layers; lm_head and embeddings are not). */
export const LORA_MODULE_NAMES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'c_attn', 'c_proj', 'c_fc'] as const;

const targetModulesSchema = z
  .union([
    z.literal('all-linear'),
    z.array(z.string().min(1)).min(1),
    z
      .string()
      .min(1)
      .refine(
        (s) => {
          try {
            new RegExp(s);
            return true;
          } catch {
            return false;
          }
        },
        { message: 'is not a valid regular expression' },
      ),
  ])
  .describe(
    "Which linear modules get adapters, as PEFT reads target_modules: a list of names (a module matches when its full name is the entry or ends with '.' + entry, e.g. q_proj), one string = a regular expression over full module names (e.g. 'model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj'), or 'all-linear'. Default: PEFT's per-family default (q_proj, v_proj; gpt2: c_attn).",
  );

export const loraOptionsSchema = z
  .strictObject({
    adapter: z
      .string()
      .min(1)
      .optional()
      .describe('A PEFT adapter folder (adapter_config.json + adapter_model.safetensors) to start from; rank, alpha, targets come from its config.'),
    rank: z.int().min(1).max(4096).optional().describe('r: the adapter rank (default 8, as PEFT).'),
    alpha: z.number().positive().optional().describe('lora_alpha: the update is scaled by alpha / rank (default 8, as PEFT).'),
    dropout: z
      .number()
      .min(0)
      .max(0.95)
      .optional()
      .describe("lora_dropout on the adapter input, in gradient passes only (default 0, or the adapter's)."),
    targetModules: targetModulesSchema.optional(),
    rslora: z.boolean().optional().describe('use_rslora: scale by alpha / sqrt(rank) instead (default false).'),
    baseModel: z
      .string()
      .min(1)
      .optional()
      .describe("base_model_name_or_path in saved adapter_config.json files (default: the model's Hub id or folder)."),
    seed: z.int().min(0).max(0xffffffff).default(0).describe('Seed of the kaiming-uniform init of lora_A (lora_B starts at 0).'),
  })
  .superRefine((o, ctx) => {
    if (o.adapter === undefined) return;
    for (const key of ['rank', 'alpha', 'targetModules', 'rslora'] as const) {
      if (o[key] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: `comes from the adapter's adapter_config.json; remove it or remove 'adapter'` });
      }
    }
  });

export type LoraOptions = z.input<typeof loraOptionsSchema>;
export type ParsedLoraOptions = z.output<typeof loraOptionsSchema>;

/** LoRA settings once resolved against a model (and the adapter folder, if any). */
export interface LoraSettings {
  rank: number;
  alpha: number;
  dropout: number;
  /** As configured (PEFT's target_modules): names, one regex, or 'all-linear'. */
  targetModules: string[] | string;
  rslora: boolean;
  seed: number;
  /** base_model_name_or_path written to adapter_config.json. */
  baseModel: string;
}

/** PEFT's scaling of the low-rank update: alpha / r (rsLoRA: alpha / √r). */
export function loraScaling(s: Pick<LoraSettings, 'rank' | 'alpha' | 'rslora'>): number {
  return s.rslora ? s.alpha / Math.sqrt(s.rank) : s.alpha / s.rank;
}
