import { loraOptionsSchema } from '@rftkit/policy';
import { promptFormatSchema } from '@rftkit/rollout';
import { BACKEND_NAMES } from '@rftkit/tensor';
import { z } from 'zod';

/** `{ use: 'grpo', with: { ... } }`: a component by id and its options. */
export const componentRefSchema = z
  .strictObject({
    use: z.string().min(1).describe('Component id (see `rft list`).'),
    with: z
      .record(z.string(), z.unknown())
      .default({})
      .describe("The component's options; validated by its own schema, defaults filled."),
  })
  .describe('A component: `use` names it by id, `with` sets its options.');

export type ComponentRefConfig = z.output<typeof componentRefSchema>;

/** Options of `policy: { use: hf }`. */
export const hfPolicyOptionsSchema = z.strictObject({
  model: z.string().min(1).describe('Model folder (relative to the config file) or `hf:org/name[@rev]` in the Hub cache.'),
  download: z.boolean().default(false).describe('Fetch an `hf:` model missing from the cache (needs Hub access; `--download` sets it).'),
  headChunkTokens: z.int().min(1).optional().describe('Token rows per LM-head chunk (memory knob).'),
  recompute: z.boolean().optional().describe('Recompute each transformer block in the backward pass (memory knob).'),
  lora: loraOptionsSchema
    .optional()
    .describe('Train LoRA adapters only (PEFT semantics: rank, alpha, dropout, targetModules); the base weights stay frozen.'),
});

export const policyConfigSchema = z.union([
  z
    .strictObject({ checkpoint: z.string().min(1).describe('Folder written by `savePolicy` / `rft sft`.') })
    .describe('Start from a saved policy.'),
  z
    .strictObject({
      use: z.literal('transformer').describe("The policy architecture; only 'transformer' is built in."),
      with: z.record(z.string(), z.unknown()).default({}).describe('Transformer sizes (dModel, nLayers, ...).'),
    })
    .describe("A freshly initialised policy; its tokenizer is built from the task's alphabet."),
  z
    .strictObject({
      use: z.literal('hf').describe('A Hugging Face decoder (llama, qwen2, qwen3, mistral, gpt2).'),
      with: hfPolicyOptionsSchema,
    })
    .describe('A pretrained Hugging Face model with its own tokenizer.'),
]);

export type PolicyConfig = z.output<typeof policyConfigSchema>;

/** Prompts are generated before the first step; more than this would stall for minutes. */
export const MAX_PROMPTS = 1_000_000;

/** Families a config names components of, with the config key that holds them. */
export const COMPONENT_KEYS = ['task', 'reward', 'advantage', 'loss', 'aggregation'] as const;

/**
 * The run config. `trainer` is the trainer's own schema, passed in so this file stays
 * independent of the trainer's version.
 */
export function createRunConfigSchema<T extends z.ZodType>(trainerSchema: T) {
  return z.strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a plain folder name (letters, digits, . _ -; no slashes or ..)')
      .max(128)
      .optional()
      .describe('Run name (a plain folder name under runs/); default: the config file name.'),
    seed: z.number().int().min(0).max(0xffffffff).default(0).describe('The run seed; every random draw derives from it.'),
    backend: z
      .enum(BACKEND_NAMES as unknown as ['auto', 'tensorflow', 'wasm', 'cpu'])
      .default('auto')
      .describe('tfjs backend: auto tries tensorflow (tfjs-node), then wasm, then cpu.'),
    task: componentRefSchema.describe('The task prompts come from (family task).'),
    policy: policyConfigSchema,
    data: z
      .strictObject({
        trainPrompts: z
          .number()
          .int()
          .positive()
          .max(MAX_PROMPTS, `at most ${MAX_PROMPTS} prompts (prompts are generated up front)`)
          .default(2000)
          .describe(`Prompts generated from the task's train split (at most ${MAX_PROMPTS}).`),
        testPrompts: z
          .number()
          .int()
          .min(0)
          .max(MAX_PROMPTS, `at most ${MAX_PROMPTS} prompts (prompts are generated up front)`)
          .default(200)
          .describe('Prompts generated from the test split (evaluation uses the first trainer.eval.prompts).'),
      })
      .prefault({})
      .describe('How many prompts the run draws from its task.'),
    rollout: promptFormatSchema
      .optional()
      .describe("How prompts become token ids: the policy's chat template (on when it has one) and a system prompt."),
    reference: z.boolean().default(false).describe('Keep a frozen copy of the initial policy (KL terms need it).'),
    reward: componentRefSchema.optional().describe("Reward function; default: the task's verifier."),
    advantage: componentRefSchema.default({ use: 'grpo', with: {} }),
    loss: componentRefSchema.default({ use: 'ppo-clip', with: {} }).describe('Policy loss.'),
    aggregation: componentRefSchema.default({ use: 'token-mean', with: {} }).describe('Loss aggregation.'),
    regularizers: z.array(componentRefSchema).default([]).describe('Applied in order.'),
    trainer: trainerSchema
      // `{}` is valid input for a schema whose fields all have defaults.
      .prefault({} as never)
      .describe("The trainer's settings (steps, sizes, optimiser, eval)."),
    components: z
      .array(z.string().min(1))
      .default([])
      .describe('Modules with user components (`./mine.js` or `./mine.js#export`), relative to the config file. They run as code.'),
    allowPackageComponents: z
      .boolean()
      .default(false)
      .describe('Let `components` name installed packages too (default: file paths only).'),
  });
}

export type RunConfigSchema = ReturnType<typeof createRunConfigSchema>;
