// A model folder's weights: `model.safetensors`, or shards listed by
// `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor: shard file}}`).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '@rftkit/core';
import { type HfTensor, type ReadSafetensorsOptions, readSafetensorsFile, readSafetensorsHeader } from './safetensors';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** Which files hold which tensors: `{ tensor name: file path }`. */
async function readWeightMap(indexPath: string, folder: string): Promise<Map<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (e) {
    throw new CheckpointError(indexPath, `cannot read the shard index: ${(e as Error).message}`, { cause: e });
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new CheckpointError(indexPath, 'weight_map must be an object mapping tensor names to shard files');
  }
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file.startsWith('.')) {
      throw new CheckpointError(indexPath, `weight_map['${name}'] must be a shard file name in the same folder, got ${JSON.stringify(file)}`);
    }
    out.set(name, join(folder, file));
  }
  return out;
}

/** The weight files of a folder: the single file, or every shard of the index. */
export async function safetensorsFiles(folder: string): Promise<string[]> {
  const single = join(folder, SINGLE_FILE);
  if (existsSync(single)) return [single];
  const index = join(folder, INDEX_FILE);
  if (existsSync(index)) return [...new Set((await readWeightMap(index, folder)).values())];
  throw new CheckpointError(
    folder,
    `no weights: looked for ${SINGLE_FILE} and ${INDEX_FILE} (only safetensors are read; convert pytorch_model.bin with transformers' save_pretrained(safe_serialization=True))`,
  );
}

/**
 * Reads `model.safetensors`, or every shard of `model.safetensors.index.json`, from a folder,
 * tensor by tensor. With a shard index, every tensor it lists must be in the shard it names.
 */
export async function readSafetensorsFolder(folder: string, options: ReadSafetensorsOptions = {}): Promise<Map<string, HfTensor>> {
  const single = join(folder, SINGLE_FILE);
  if (existsSync(single)) return readSafetensorsFile(single, options);
  const indexPath = join(folder, INDEX_FILE);
  if (!existsSync(indexPath)) await safetensorsFiles(folder); // throws the "no weights" error
  const weightMap = await readWeightMap(indexPath, folder);
  const byShard = new Map<string, string[]>();
  for (const [name, file] of weightMap) {
    if (options.filter && !options.filter(name)) continue;
    byShard.set(file, [...(byShard.get(file) ?? []), name]);
  }
  const out = new Map<string, HfTensor>();
  for (const [file, names] of byShard) {
    if (!existsSync(file)) throw new CheckpointError(file, `shard listed by ${INDEX_FILE} (for tensor '${names[0]}') is missing`);
    const wanted = new Set(names);
    const present = new Set((await readSafetensorsHeader(file)).entries.map((e) => e.name));
    for (const name of names) {
      if (!present.has(name)) throw new CheckpointError(file, `tensor '${name}' is listed in ${INDEX_FILE} but not in this shard`);
    }
    for (const [name, tensor] of await readSafetensorsFile(file, { filter: (n) => wanted.has(n) })) out.set(name, tensor);
  }
  return out;
}

/**
 * The tensor `name` with exactly `shape`; a clear error naming the file and the tensor when it
 * is missing or shaped otherwise (the model side calls this for every weight it needs).
 */
export function takeTensor(tensors: ReadonlyMap<string, HfTensor>, name: string, shape: readonly number[], source: string): HfTensor {
  const t = tensors.get(name);
  if (!t) throw new CheckpointError(source, `tensor '${name}' (shape [${shape.join(', ')}]) is missing`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new CheckpointError(t.file, `tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}
