import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CheckpointError, type JsonValue, type Metrics, writeDirAtomic, writeFileAtomic } from '@rftkit/core';
import type { OptimizerState } from './optimizer';

/**
 * Format 1. `optimizer.json` records the SHA-256 of `optimizer.bin` (`sha256`); checkpoints
 * written before it existed have none and load without the check (their moments are still
 * checked finite).
 */
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
    const bytes = new Uint8Array(bin.buffer);
    await writeFile(join(tmp, 'optimizer.bin'), bytes);
    await writeFile(
      join(tmp, 'optimizer.json'),
      JSON.stringify({ name: parts.optimizer.name, t: parts.optimizer.t, slots: manifest, sha256: sha256(bytes) }, null, 2),
    );
    await writeFile(join(tmp, 'trainer-state.json'), JSON.stringify(parts.state));
  });
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

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

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A metrics row as JSON keeps it: numbers (NaN and ±Infinity are written as null). */
function checkRows(path: string, field: 'history' | 'evals', rows: unknown[], step: number): void {
  let last = -1;
  rows.forEach((row, i) => {
    const bad = (what: string) => new CheckpointError(path, `'${field}[${i}]' ${what}`);
    if (!isObject(row)) throw bad('must be an object of metrics');
    for (const [k, v] of Object.entries(row)) if (typeof v !== 'number' && v !== null) throw bad(`has '${k}' = ${JSON.stringify(v)}; metrics are numbers`);
    const at = row.step;
    if (!Number.isInteger(at) || (at as number) < 0 || (at as number) > step) throw bad(`has step ${String(at)}; expected an integer in 0..${step}`);
    if (field === 'history' && at !== i + 1) throw bad(`has step ${at}; the history holds one row per step, in order (expected ${i + 1})`);
    if ((at as number) < last) throw bad(`has step ${at} after step ${last}; rows are in step order`);
    last = at as number;
  });
}

/**
 * Reads and checks `dir/trainer-state.json`: its fields, its metric rows, and that its
 * step is the one the folder is named for (`step-000040` holds step 40; a hand-edited step
 * would otherwise rewind the run and overwrite later checkpoints).
 */
export async function readTrainerState(dir: string): Promise<TrainerCheckpointState> {
  const path = join(dir, 'trainer-state.json');
  const s = await readJson(path);
  if (!isObject(s)) throw new CheckpointError(path, 'expected a JSON object');
  if (s.format !== CHECKPOINT_FORMAT) throw new CheckpointError(path, `unsupported format ${String(s.format)} (expected ${CHECKPOINT_FORMAT})`);
  const step = s.step;
  if (!Number.isInteger(step) || (step as number) < 0) throw new CheckpointError(path, `'step' must be a non-negative integer`);
  const named = /^step-(\d+)$/.exec(basename(dir));
  if (named && Number(named[1]) !== step) {
    throw new CheckpointError(path, `'step' is ${step} but the folder is ${basename(dir)}; the state does not belong to this checkpoint (edited or moved)`);
  }
  if (!Number.isInteger(s.seed)) throw new CheckpointError(path, `'seed' must be an integer`);
  if (!Array.isArray(s.regularizers) || !Array.isArray(s.history) || !Array.isArray(s.evals)) {
    throw new CheckpointError(path, `'regularizers', 'history' and 'evals' must be arrays`);
  }
  s.regularizers.forEach((r, i) => {
    if (!isObject(r) || typeof r.id !== 'string' || !('state' in r)) {
      throw new CheckpointError(path, `'regularizers[${i}]' must be { id, state }`);
    }
  });
  if (s.history.length !== step) {
    throw new CheckpointError(path, `'history' has ${s.history.length} rows but 'step' is ${step} (one row per step)`);
  }
  checkRows(path, 'history', s.history, step as number);
  checkRows(path, 'evals', s.evals, step as number);
  return s as unknown as TrainerCheckpointState;
}

export async function readOptimizerState(dir: string): Promise<OptimizerState> {
  const jsonPath = join(dir, 'optimizer.json');
  const binPath = join(dir, 'optimizer.bin');
  const meta = await readJson(jsonPath);
  if (!isObject(meta) || !Number.isInteger(meta.t) || (meta.t as number) < 0 || !Array.isArray(meta.slots)) {
    throw new CheckpointError(jsonPath, `expected { name, t (a non-negative integer), slots[] }`);
  }
  // writeCheckpoint lays the slots out back to back: m then v of each, in order.
  let expected = 0;
  const slots = meta.slots.map((s, i) => {
    const ok =
      isObject(s) &&
      typeof s.name === 'string' &&
      Array.isArray(s.shape) &&
      s.shape.every((d) => Number.isInteger(d) && d >= 0) &&
      Number.isInteger(s.length) &&
      s.length === (s.shape as number[]).reduce((a, b) => a * b, 1);
    if (!ok) throw new CheckpointError(jsonPath, `slots[${i}] needs a name, an integer shape and length = the shape's size`);
    if (s.offset !== expected) {
      throw new CheckpointError(jsonPath, `slots[${i}] ('${s.name}') has offset ${String(s.offset)}, expected ${expected} (edited or corrupt)`);
    }
    expected += 2 * (s.length as number);
    return s as { name: string; shape: number[]; offset: number; length: number };
  });
  let buf: Buffer;
  try {
    buf = await readFile(binPath);
  } catch (cause) {
    throw new CheckpointError(binPath, `cannot read (${(cause as Error).message})`, { cause });
  }
  if (buf.byteLength !== expected * 4) {
    throw new CheckpointError(binPath, `has ${buf.byteLength} bytes, optimizer.json describes ${expected * 4}`);
  }
  if (meta.sha256 !== undefined) {
    const digest = sha256(buf);
    if (digest !== meta.sha256) {
      throw new CheckpointError(binPath, `checksum ${digest} does not match optimizer.json's ${String(meta.sha256)} (corrupt)`);
    }
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const state: OptimizerState = {
    name: typeof meta.name === 'string' ? meta.name : 'adamw',
    t: meta.t as number,
    slots: slots.map((s) => ({
      name: s.name,
      shape: s.shape,
      m: all.slice(s.offset, s.offset + s.length),
      v: all.slice(s.offset + s.length, s.offset + 2 * s.length),
    })),
  };
  // Moments are finite and v ≥ 0 in any state Adam can reach; anything else would turn
  // the weights into NaN on the first step after resuming.
  for (const s of state.slots) {
    const i = s.m.findIndex((x) => !Number.isFinite(x));
    const j = s.v.findIndex((x) => !(Number.isFinite(x) && x >= 0));
    if (i >= 0 || j >= 0) {
      const what = i >= 0 ? `first moment m[${i}] = ${s.m[i]}` : `second moment v[${j}] = ${s.v[j]}`;
      throw new CheckpointError(binPath, `optimizer state of '${s.name}' holds ${what}; Adam moments must be finite (and v ≥ 0): the optimizer state is corrupt`);
    }
  }
  return state;
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

/**
 * Cleans what an interrupted checkpoint write left in `checkpointsDir` (see core's
 * `writeDirAtomic`): `.step-N.<hex>.tmp` folders are removed; a `.step-N.<hex>.old` folder
 * is the previous complete copy, moved back when `step-N` itself is missing. Returns the
 * names it removed or restored.
 */
export async function cleanInterruptedWrites(checkpointsDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(checkpointsDir);
  } catch {
    return [];
  }
  const done: string[] = [];
  for (const n of names) {
    const m = /^\.(step-\d+)\.[0-9a-f]+\.(tmp|old)$/.exec(n);
    if (!m) continue;
    const path = join(checkpointsDir, n);
    const target = join(checkpointsDir, m[1]!);
    const targetExists = await stat(target).then(
      () => true,
      () => false,
    );
    if (m[2] === 'old' && !targetExists) await rename(path, target);
    else await rm(path, { recursive: true, force: true });
    done.push(n);
  }
  return done;
}

/** Removes the oldest `step-*` folders beyond `keep`. */
export async function pruneCheckpoints(checkpointsDir: string, keep: number): Promise<void> {
  const names = (await readdir(checkpointsDir)).filter((n) => /^step-\d+$/.test(n)).sort();
  for (const n of names.slice(0, Math.max(0, names.length - keep))) {
    await rm(join(checkpointsDir, n), { recursive: true, force: true });
  }
}
