import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, type JsonValue, type Metrics, writeDirAtomic, writeFileAtomic } from '@rftkit/core';
import type { OptimizerState } from './optimizer';

export const CHECKPOINT_FORMAT = 1;

/** What `trainer-state.json` holds. */
export interface TrainerCheckpointState {
  format: number;
  /** Steps completed. */
  step: number;
  /** The run seed: every random draw of step s derives from (seed, label, s), so the seed is the whole RNG state. */
  seed: number;
  regularizers: Array<{ id: string; state: JsonValue | null }>;
  /** Metric rows of the steps completed. */
  history: Metrics[];
  /** Evaluation rows so far. */
  evals: Metrics[];
}

export interface PolicyIO {
  save(dir: string): Promise<void>;
  load(dir: string): Promise<void>;
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** Writes `dir` atomically: policy/, optimizer.json + optimizer.bin, trainer-state.json. */
export async function writeCheckpoint(
  dir: string,
  parts: { policy: PolicyIO; optimizer: OptimizerState; state: TrainerCheckpointState },
): Promise<void> {
  await writeDirAtomic(dir, async (tmp) => {
    await parts.policy.save(join(tmp, 'policy'));
    const { slots } = parts.optimizer;
    const total = slots.reduce((a, s) => a + s.m.length, 0);
    const bin = new Float32Array(2 * total);
    let offset = 0;
    const manifest = slots.map((s) => {
      bin.set(s.m, offset);
      bin.set(s.v, offset + s.m.length);
      const entry = { name: s.name, shape: s.shape, offset, length: s.m.length };
      offset += 2 * s.m.length;
      return entry;
    });
    await writeFile(join(tmp, 'optimizer.bin'), new Uint8Array(bin.buffer));
    await writeFile(
      join(tmp, 'optimizer.json'),
      JSON.stringify({ name: parts.optimizer.name, t: parts.optimizer.t, slots: manifest }, null, 2),
    );
    await writeFile(join(tmp, 'trainer-state.json'), JSON.stringify(parts.state));
  });
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new CheckpointError(path, `cannot read (${(cause as Error).message})`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(path, `not valid JSON (${(cause as Error).message})`, { cause });
  }
}

export async function readTrainerState(dir: string): Promise<TrainerCheckpointState> {
  const path = join(dir, 'trainer-state.json');
  const s = (await readJson(path)) as Partial<TrainerCheckpointState> | null;
  if (!s || typeof s !== 'object') throw new CheckpointError(path, 'expected a JSON object');
  if (s.format !== CHECKPOINT_FORMAT) throw new CheckpointError(path, `unsupported format ${String(s.format)} (expected ${CHECKPOINT_FORMAT})`);
  if (!Number.isInteger(s.step) || (s.step as number) < 0) throw new CheckpointError(path, `'step' must be a non-negative integer`);
  if (!Array.isArray(s.regularizers) || !Array.isArray(s.history) || !Array.isArray(s.evals)) {
    throw new CheckpointError(path, `'regularizers', 'history' and 'evals' must be arrays`);
  }
  return s as TrainerCheckpointState;
}

export async function readOptimizerState(dir: string): Promise<OptimizerState> {
  const jsonPath = join(dir, 'optimizer.json');
  const binPath = join(dir, 'optimizer.bin');
  const meta = (await readJson(jsonPath)) as {
    name?: string;
    t?: number;
    slots?: Array<{ name: string; shape: number[]; offset: number; length: number }>;
  };
  if (!meta || typeof meta.t !== 'number' || !Array.isArray(meta.slots)) {
    throw new CheckpointError(jsonPath, `expected { name, t, slots[] }`);
  }
  let buf: Buffer;
  try {
    buf = await readFile(binPath);
  } catch (cause) {
    throw new CheckpointError(binPath, `cannot read (${(cause as Error).message})`, { cause });
  }
  const needed = meta.slots.reduce((a, s) => Math.max(a, s.offset + 2 * s.length), 0);
  if (buf.byteLength !== needed * 4) {
    throw new CheckpointError(binPath, `has ${buf.byteLength} bytes, optimizer.json describes ${needed * 4}`);
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return {
    name: meta.name ?? 'adamw',
    t: meta.t,
    slots: meta.slots.map((s) => ({
      name: s.name,
      shape: s.shape,
      m: all.slice(s.offset, s.offset + s.length),
      v: all.slice(s.offset + s.length, s.offset + 2 * s.length),
    })),
  };
}

/** The checkpoint folder `checkpoints/latest` points at. */
export async function resolveLatest(checkpointsDir: string): Promise<string> {
  const pointer = join(checkpointsDir, 'latest');
  let name: string;
  try {
    name = (await readFile(pointer, 'utf8')).trim();
  } catch (cause) {
    throw new CheckpointError(pointer, `no checkpoint to resume from (${(cause as Error).message})`, { cause });
  }
  if (!/^step-\d+$/.test(name)) throw new CheckpointError(pointer, `expected a folder name like step-000010, got '${name}'`);
  return join(checkpointsDir, name);
}

export async function writeLatest(checkpointsDir: string, name: string): Promise<void> {
  await writeFileAtomic(join(checkpointsDir, 'latest'), `${name}\n`);
}

/** Removes the oldest `step-*` folders beyond `keep`. */
export async function pruneCheckpoints(checkpointsDir: string, keep: number): Promise<void> {
  const names = (await readdir(checkpointsDir)).filter((n) => /^step-\d+$/.test(n)).sort();
  for (const n of names.slice(0, Math.max(0, names.length - keep))) {
    await rm(join(checkpointsDir, n), { recursive: true, force: true });
  }
}
