import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, type Policy } from '@rftkit/core';
import { exportHfPolicy, type HfPolicy, isHfLoraPolicy, loadPolicy } from '@rftkit/policy';
import { selectBackend } from '@rftkit/tensor';
import type { CliIO } from '../io';
import { resolveEvalTarget } from './eval';

export const EXPORT_DTYPES = ['float32', 'bfloat16'] as const;

export interface ExportOptions {
  /** The Hugging Face folder to write. */
  to: string;
  /** Stored weight type. Default float32. */
  dtype?: (typeof EXPORT_DTYPES)[number];
  /** Replace the contents of an existing non-empty `to`. */
  force?: boolean;
  /** tfjs backend (default auto). */
  backend?: string;
  /** A LoRA run: also write its adapters here as a PEFT folder (the export itself is merged). */
  adapter?: string;
}

/**
 * `rft export`: writes the policy of a run (its latest checkpoint), a trainer checkpoint or a
 * policy folder as a Hugging Face model folder that transformers' from_pretrained loads.
 * Only policies loaded from a Hugging Face model (`policy: { use: hf }`) can be exported. A
 * LoRA run is written merged (W + scaling·B·A); `adapter` also writes its PEFT adapter folder.
 */
export async function runExport(path: string, options: ExportOptions, io: CliIO): Promise<void> {
  const dtype = options.dtype ?? 'float32';
  if (!(EXPORT_DTYPES as readonly string[]).includes(dtype)) {
    throw new ConfigError('rft export', [{ path: '--dtype', message: `must be one of ${EXPORT_DTYPES.join(', ')}, got '${dtype}'` }]);
  }
  const to = resolve(options.to);
  const occupied = existsSync(to) && (await readdir(to)).length > 0;
  if (occupied && !options.force) {
    throw new ConfigError('rft export', [{ path: '--to', message: `${options.to} exists and is not empty; pass --force to replace it` }]);
  }
  const target = await resolveEvalTarget(path);
  await selectBackend((options.backend ?? 'auto') as 'auto', { log: (m) => io.err(m) });
  let policy: Policy | undefined;
  try {
    policy = await loadPolicy(target.policyDir);
    const type = policy.config().type;
    if (type !== 'hf') {
      throw new ConfigError('rft export', [
        { path: '<target>', message: `${target.describe} holds a '${type}' policy; only Hugging Face policies (policy: { use: hf }) can be exported` },
      ]);
    }
    if (options.adapter !== undefined && !isHfLoraPolicy(policy)) {
      throw new ConfigError('rft export', [{ path: '--adapter', message: `${target.describe} is not a LoRA run; it has no adapters to write` }]);
    }
    // Cleared only once the policy loaded, so a bad target leaves --to as it was.
    if (occupied) await rm(to, { recursive: true, force: true });
    const adapterDir = options.adapter === undefined ? undefined : resolve(options.adapter);
    await exportHfPolicy(policy as HfPolicy, to, { dtype, adapterDir });
    const merged = isHfLoraPolicy(policy) ? ', LoRA adapters merged' : '';
    io.err(`exported ${target.describe} to ${options.to} (${dtype}${merged})${adapterDir ? `; adapters to ${options.adapter}` : ''}`);
  } finally {
    policy?.dispose();
  }
}
