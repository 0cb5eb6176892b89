import { z } from 'zod';

/**
 * An object schema that rejects keys it does not declare (a misspelt `sampling.temprature`
 * would otherwise be dropped and the run use the default), listing the allowed names.
 */
function strictObject<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field; allowed: ${allowed}` : undefined),
  });
}

/** Sampling parameters (core `SamplingParams`) with the rollout package's documented defaults. */
export const trainerSamplingSchema = strictObject({
  temperature: z.number().positive().default(1).describe('Softmax temperature (> 0).'),
  topK: z.number().int().min(0).default(0).describe('Keep the k most likely tokens; 0 = off.'),
  topP: z.number().gt(0).max(1).default(1).describe('Nucleus mass; 1 = off.'),
  minP: z.number().min(0).max(1).default(0).describe('Drop tokens below minP × max prob; 0 = off.'),
  maxNewTokens: z.number().int().positive().default(32).describe('Longest response, in tokens.'),
  stopTokens: z.array(z.number().int().min(0)).default([]).describe('Extra token ids that end a response.'),
});

export const optimizerSchema = strictObject({
  name: z
    .enum(['adam', 'adamw'])
    .default('adamw')
    .describe('adam: weight decay added to the gradient (L2, as torch Adam); adamw: decoupled decay.'),
  lr: z.number().positive().default(1e-4).describe('Peak learning rate.'),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  eps: z.number().positive().default(1e-8),
  weightDecay: z.number().min(0).default(0.01).describe('Weight decay coefficient (verl default 0.01).'),
  gradClip: z.number().min(0).default(1).describe('Clip the global gradient norm to this value; 0 = off.'),
  schedule: z
    .enum(['constant', 'linear', 'cosine'])
    .default('constant')
    .describe('Learning-rate decay after warm-up, per trainer step (to 0 after the last step).'),
  warmupSteps: z.number().int().min(0).default(0).describe('Linear warm-up over this many trainer steps.'),
});

export const evalSchema = strictObject({
  every: z.number().int().min(0).default(10).describe('Evaluate every N steps (also at step 0 and at the end); 0 = never.'),
  prompts: z.number().int().min(0).default(0).describe('How many test prompts to evaluate (the first N); 0 = all.'),
  samplesPerPrompt: z.number().int().positive().default(8).describe('Samples per test prompt (n of pass@k).'),
  k: z.array(z.number().int().positive()).default([1, 4, 8]).describe('pass@k values to report (each ≤ samplesPerPrompt).'),
  threshold: z.number().default(1).describe('A sample counts as correct when its score ≥ threshold.'),
  sampling: trainerSamplingSchema.default(trainerSamplingSchema.parse({})).describe('Sampling for evaluation.'),
  chunkPrompts: z
    .number()
    .int()
    .positive()
    .default(32)
    .describe('Test prompts per evaluation rollout (bounds its memory); does not change results.'),
  atEnds: strictObject({
    samplesPerPrompt: z.number().int().positive().describe('Samples per test prompt at step 0 and at the last step.'),
    k: z.array(z.number().int().positive()).describe('pass@k values at step 0 and at the last step (each ≤ atEnds.samplesPerPrompt).'),
  })
    .optional()
    .describe('A larger evaluation at step 0 and at the last step only, e.g. pass@256 of the trained policy against the base; the evaluations between keep samplesPerPrompt and k.'),
});

/**
 * Corrections for the gap between the rollout engine's distribution μ (`logpT1`) and the
 * trainer's old policy π_old on the same tokens (docs/components/corrections.md). All off.
 */
export const rolloutCorrectionSchema = strictObject({
  tokenIs: z.boolean().default(false).describe('Token-level truncated importance sampling: weight min(π_old/μ, tokenIsCap) on the policy loss.'),
  tokenIsCap: z.number().positive().default(2).describe('Cap C of the token weight (TRL vllm_importance_sampling_cap).'),
  seqMask: z.boolean().default(false).describe('Drop sequences whose geometric-mean ratio exp(mean_t log(π_old/μ)) leaves [seqMaskLow, seqMaskHigh].'),
  seqMaskLow: z.number().positive().default(0.5),
  seqMaskHigh: z.number().positive().default(2),
  tokenMask: z.boolean().default(false).describe('IcePop: drop tokens whose ratio π_old/μ leaves [1/tokenMaskBound, tokenMaskBound].'),
  tokenMaskBound: z.number().gt(1).default(2),
});

/** What `samples.jsonl` of a run folder holds (see `samplesEvery`). */
export const samplesSchema = strictObject({
  perStep: z.number().int().min(0).default(4).describe('Training responses logged on a sampled step (the first of each of the first N prompts).'),
  perEval: z.number().int().min(0).default(8).describe('Evaluation responses logged per evaluation (the first of each of the first N test prompts); 0 = none.'),
  maxBytes: z.number().int().positive().default(2 * 1024 * 1024).describe('samples.jsonl stops growing at this size (bytes).'),
});

/** DAPO dynamic sampling: drop groups whose rewards all agree and refill from more prompts. */
export const dynamicSamplingSchema = strictObject({
  enabled: z.boolean().default(false),
  maxRolloutRounds: z
    .number()
    .int()
    .min(0)
    .default(3)
    .describe('Extra rollout rounds per step to refill dropped groups; when spent, the step trains on the groups it has.'),
});

export const scoringSchema = strictObject({
  timeoutMs: z.number().positive().finite().default(10_000).describe('Longest one reward call may take (ms); a row that takes longer scores errorScore.'),
  errorScore: z.number().finite().default(0).describe('Score of a row whose reward threw, timed out or returned a non-finite value.'),
  maxFailedSteps: z
    .number()
    .int()
    .min(0)
    .default(3)
    .describe('Stop the run when the reward fails on every row of this many consecutive steps; 0 = never.'),
});

export const trainerConfigSchema = strictObject({
  steps: z.number().int().min(0).default(100).describe('Trainer steps (one rollout batch each).'),
  seed: z.number().int().min(0).max(0xffffffff).default(0).describe('Run seed; every random draw derives from it.'),
  promptsPerStep: z.number().int().positive().default(8).describe('Prompts drawn per step (one group each).'),
  samplesPerPrompt: z.number().int().positive().default(4).describe('Responses sampled per prompt (group size).'),
  miniBatchSamples: z.number().int().positive().default(32).describe('Rows per optimizer step.'),
  microBatchSamples: z
    .number()
    .int()
    .positive()
    .default(8)
    .describe('Rows per forward/backward (gradient accumulation); does not change results.'),
  epochs: z.number().int().positive().default(1).describe('Passes over each rollout batch.'),
  sampling: trainerSamplingSchema.default(trainerSamplingSchema.parse({})).describe('Main rollout sampling.'),
  optimizer: optimizerSchema.default(optimizerSchema.parse({})),
  eval: evalSchema.default(evalSchema.parse({})),
  checkpointEvery: z.number().int().min(0).default(0).describe('Save a checkpoint every N steps (and at the end); 0 = only at the end.'),
  keepCheckpoints: z.number().int().positive().default(3).describe('Checkpoints kept on disk (oldest pruned).'),
  samplesEvery: z
    .number()
    .int()
    .min(0)
    .default(10)
    .describe('Log a few training responses (prompt, completion, reward, length) to samples.jsonl every N steps; 0 = none.'),
  samples: samplesSchema.default(samplesSchema.parse({})),
  rolloutCorrection: rolloutCorrectionSchema.default(rolloutCorrectionSchema.parse({})),
  dynamicSampling: dynamicSamplingSchema.default(dynamicSamplingSchema.parse({})),
  overlongFilter: z.boolean().default(false).describe("Mask responses cut at maxNewTokens (finishReason 'length') out of the loss (DAPO)."),
  scoring: scoringSchema.default(scoringSchema.parse({})).describe('Reward timeout, score on error, and when a broken reward stops the run.'),
}).superRefine((c, ctx) => {
  // The batch-size relations verl asserts: a micro-batch within a mini-batch, a mini-batch
  // within the step's rollout (otherwise one optimizer step silently covers fewer rows).
  const rows = c.promptsPerStep * c.samplesPerPrompt;
  if (c.microBatchSamples > c.miniBatchSamples) {
    ctx.addIssue({
      code: 'custom',
      path: ['microBatchSamples'],
      message: `${c.microBatchSamples} is larger than miniBatchSamples (${c.miniBatchSamples}); set microBatchSamples ≤ miniBatchSamples`,
    });
  }
  if (c.miniBatchSamples > rows) {
    ctx.addIssue({
      code: 'custom',
      path: ['miniBatchSamples'],
      message: `${c.miniBatchSamples} is larger than the rows of a step, promptsPerStep × samplesPerPrompt = ${c.promptsPerStep} × ${c.samplesPerPrompt} = ${rows}; set miniBatchSamples ≤ ${rows}`,
    });
  }
  const rc = c.rolloutCorrection;
  if (rc.seqMaskLow >= rc.seqMaskHigh) {
    ctx.addIssue({
      code: 'custom',
      path: ['rolloutCorrection', 'seqMaskLow'],
      message: `${rc.seqMaskLow} is not below seqMaskHigh (${rc.seqMaskHigh}); set seqMaskLow < seqMaskHigh`,
    });
  }
  const n = c.eval.samplesPerPrompt;
  c.eval.k.forEach((k, i) => {
    if (k > n) {
      ctx.addIssue({
        code: 'custom',
        path: ['eval', 'k', i],
        message: `pass@${k} needs at least ${k} samples per prompt, but eval.samplesPerPrompt is ${n}; use k ≤ ${n} or raise eval.samplesPerPrompt`,
      });
    }
  });
  const ends = c.eval.atEnds;
  ends?.k.forEach((k, i) => {
    if (k > ends.samplesPerPrompt) {
      ctx.addIssue({
        code: 'custom',
        path: ['eval', 'atEnds', 'k', i],
        message: `pass@${k} needs at least ${k} samples per prompt, but eval.atEnds.samplesPerPrompt is ${ends.samplesPerPrompt}; use k ≤ ${ends.samplesPerPrompt} or raise it`,
      });
    }
  });
});

export type TrainerConfig = z.output<typeof trainerConfigSchema>;
export type TrainerConfigInput = z.input<typeof trainerConfigSchema>;
export type OptimizerConfig = z.output<typeof optimizerSchema>;
export type RolloutCorrectionConfig = z.output<typeof rolloutCorrectionSchema>;
