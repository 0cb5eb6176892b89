import { join } from 'node:path';
import { CheckpointError, type Metrics, type Policy, RftError, StateError } from '@rftkit/core';
import {
  CHECKPOINT_FORMAT,
  checkpointName,
  pruneCheckpoints,
  readOptimizerState,
  readTrainerState,
  type TrainerCheckpointState,
  writeCheckpoint,
  writeLatest,
} from '../checkpoint';
import { componentName, guard } from './component-checks';
import type { TrainerParts } from './parts';

/** How the policy is saved/restored in checkpoints. */
export interface PolicyStore {
  save(dir: string, policy: Policy): Promise<void>;
  load(dir: string, policy: Policy): Promise<void>;
}

/** The progress of a run: what a checkpoint saves besides the weights and optimizer. */
export interface RunProgress {
  /** Steps completed. */
  step: number;
  history: Metrics[];
  evals: Metrics[];
}

type CheckpointParts = Pick<TrainerParts, 'config' | 'policy' | 'optimizer' | 'regularizers'>;

/**
 * Checkpoint stage: writes `checkpointsDir/step-NNNNNN` atomically (policy, optimizer,
 * trainer state), points `latest` at it and prunes the oldest beyond `keepCheckpoints`.
 */
export async function saveCheckpointStage(
  parts: CheckpointParts,
  store: PolicyStore,
  checkpointsDir: string,
  progress: RunProgress,
): Promise<string> {
  const name = checkpointName(progress.step);
  const dir = join(checkpointsDir, name);
  const state: TrainerCheckpointState = {
    format: CHECKPOINT_FORMAT,
    step: progress.step,
    seed: parts.config.seed,
    regularizers: parts.regularizers.map((r) => ({
      id: r.id,
      state: (r.state ? guard(componentName('regularizer', r.id), progress.step, () => r.state!()) : null) ?? null,
    })),
    history: progress.history,
    evals: progress.evals,
  };
  await writeCheckpoint(dir, {
    policy: { save: (d) => store.save(d, parts.policy), load: async () => {} },
    optimizer: parts.optimizer.state(),
    state,
  });
  await writeLatest(checkpointsDir, name);
  await pruneCheckpoints(checkpointsDir, parts.config.keepCheckpoints);
  return dir;
}

/**
 * Restores policy weights, optimizer moments and regularizer state from checkpoint `dir`
 * and returns the run's progress there. Throws `CheckpointError` / `StateError` naming the file.
 */
export async function restoreStage(parts: CheckpointParts, store: PolicyStore, dir: string): Promise<RunProgress> {
  const { config, policy, optimizer, regularizers } = parts;
  const state = await readTrainerState(dir);
  if (state.seed !== config.seed) {
    throw new CheckpointError(join(dir, 'trainer-state.json'), `was written with seed ${state.seed}, the config has seed ${config.seed}`);
  }
  try {
    await store.load(join(dir, 'policy'), policy);
  } catch (cause) {
    if (cause instanceof RftError) throw cause;
    throw new CheckpointError(join(dir, 'policy'), `cannot load the policy (${(cause as Error).message})`, { cause });
  }
  const opt = await readOptimizerState(dir);
  try {
    optimizer.loadState(opt);
  } catch (cause) {
    throw new CheckpointError(join(dir, 'optimizer.json'), (cause as Error).message, { cause });
  }
  regularizers.forEach((reg, i) => {
    const saved = state.regularizers[i];
    if (!saved || saved.id !== reg.id) {
      throw new CheckpointError(
        join(dir, 'trainer-state.json'),
        `regularizer ${i} is '${reg.id}' but the checkpoint has '${saved?.id ?? '(none)'}'; resume with the same composition`,
      );
    }
    if (saved.state !== null && reg.loadState) {
      try {
        reg.loadState(saved.state);
      } catch (cause) {
        if (cause instanceof RftError) throw cause;
        throw new StateError(reg.id, (cause as Error).message);
      }
    }
  });
  return { step: state.step, history: [...state.history], evals: [...state.evals] };
}
