import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError } from '@rftkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import expected from './__fixtures__/safetensors/expected.json';
import { float32ToBf16Bits, readSafetensorsFile, readSafetensorsHeader, writeSafetensorsFile } from './safetensors';
import { readSafetensorsFolder, takeTensor } from './weights';

const FIXTURES = join(import.meta.dirname, '__fixtures__/safetensors');
type Golden = Record<string, { dtype: string; shape: number[]; values: Array<number | string> }>;
// JSON has no infinities; the generator writes them as 'inf' / '-inf'.
const num = (v: number | string) => (typeof v === 'string' ? Number(v.replace('inf', 'Infinity')) : v);

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'rftkit-hf-st-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function expectGolden(tensors: Map<string, { dtype: string; shape: number[]; values: Float32Array }>, golden: Golden) {
  expect([...tensors.keys()].sort()).toEqual(Object.keys(golden).sort());
  for (const [name, g] of Object.entries(golden)) {
    const t = tensors.get(name);
    expect(t?.dtype, name).toBe(g.dtype);
    expect(t?.shape, name).toEqual(g.shape);
    // Exact: the values torch upcasts to float32, bit for bit (Object.is tells -0 from 0).
    expect(Array.from(t?.values ?? []), name).toEqual(g.values.map((v) => Math.fround(num(v))));
  }
}

describe('reading files written by Python safetensors', () => {
  it('reads every dtype of a single file exactly, with its metadata', async () => {
    const tensors = await readSafetensorsFile(join(FIXTURES, 'single/model.safetensors'));
    expectGolden(tensors, expected.single as Golden);
    const header = await readSafetensorsHeader(join(FIXTURES, 'single/model.safetensors'));
    expect(header.metadata).toEqual({ format: 'pt', note: 'golden' });
    expect(Object.is(tensors.get('f16.special')?.values[1], -0)).toBe(true);
  });

  it('reads a sharded folder through model.safetensors.index.json', async () => {
    const tensors = await readSafetensorsFolder(join(FIXTURES, 'sharded'));
    expectGolden(tensors, expected.sharded as Golden);
    expect(new Set([...tensors.values()].map((t) => t.file.split('/').pop()))).toEqual(
      new Set(expected.shardFiles.filter((f) => f.endsWith('.safetensors'))),
    );
  });

  it('reads only the tensors the filter passes', async () => {
    const tensors = await readSafetensorsFolder(join(FIXTURES, 'sharded'), { filter: (n) => n.includes('layers.1') });
    expect([...tensors.keys()]).toEqual(['model.layers.1.weight']);
    const single = await readSafetensorsFolder(join(FIXTURES, 'single'), { filter: (n) => n.startsWith('bf16') });
    expect([...single.keys()].sort()).toEqual(['bf16.special', 'bf16.weight']);
  });
});

describe('writing', () => {
  it('rounds float32 to bfloat16 to nearest even exactly as torch does', () => {
    const source = Float32Array.from(expected.bf16Rounding.source, num);
    const bits = float32ToBf16Bits(source);
    const back = new Float32Array(new Uint32Array(Array.from(bits, (b) => b << 16)).buffer);
    expect(Array.from(back)).toEqual(expected.bf16Rounding.bf16.map((v) => Math.fround(num(v))));
    const nan = float32ToBf16Bits(Float32Array.of(Number.NaN, -Number.NaN));
    expect(Number.isNaN(new Float32Array(new Uint32Array([(nan[0] as number) << 16]).buffer)[0])).toBe(true);
  });

  it('round-trips float32 and bfloat16 files, metadata included', async () => {
    const tensors = [
      { name: 'a', shape: [2, 3], values: Float32Array.of(1, -2, 3.5, 1e-30, 7, 1.00390625) },
      { name: 'b.bias', shape: [3], values: Float32Array.of(0.1, 0.2, 0.3) },
      { name: 'scalar', shape: [], values: Float32Array.of(9) },
    ];
    const f32 = join(tmp, 'f32.safetensors');
    await writeSafetensorsFile(f32, tensors, { metadata: { format: 'pt' } });
    const back = await readSafetensorsFile(f32);
    for (const t of tensors) {
      expect(back.get(t.name)?.shape).toEqual(t.shape);
      expect(back.get(t.name)?.values).toEqual(t.values);
    }
    expect((await readSafetensorsHeader(f32)).metadata).toEqual({ format: 'pt' });
    // The header is padded so the data starts on an 8-byte boundary.
    const bytes = await readFile(f32);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);

    const bf16 = join(tmp, 'bf16.safetensors');
    await writeSafetensorsFile(bf16, tensors, { dtype: 'BF16' });
    const backBf16 = await readSafetensorsFile(bf16);
    for (const t of tensors) {
      const bits = float32ToBf16Bits(t.values);
      expect(backBf16.get(t.name)?.dtype).toBe('BF16');
      expect(backBf16.get(t.name)?.values).toEqual(new Float32Array(new Uint32Array(Array.from(bits, (b) => b << 16)).buffer));
    }
  });

  it('refuses values that do not fill the shape, and repeated names', async () => {
    const path = join(tmp, 'bad.safetensors');
    await expect(writeSafetensorsFile(path, [{ name: 'w', shape: [2, 2], values: new Float32Array(3) }])).rejects.toThrow(
      /tensor 'w': shape \[2, 2\] does not match its 3 values/,
    );
    const t = { name: 'w', shape: [1], values: new Float32Array(1) };
    await expect(writeSafetensorsFile(path, [t, t])).rejects.toThrow(/'w' is reserved or repeated/);
  });
});

describe('broken files are errors naming the file and the tensor', () => {
  async function headerFile(name: string, header: unknown, dataBytes: number): Promise<string> {
    const json = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    const path = join(tmp, name);
    await writeFile(path, Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]));
    return path;
  }

  it('a truncated file', async () => {
    const path = join(tmp, 'truncated.safetensors');
    await copyFile(join(FIXTURES, 'single/model.safetensors'), path);
    const size = (await readFile(path)).length;
    await truncate(path, size - 3);
    const err = await readSafetensorsFile(path).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/truncated: tensor '[^']+' needs bytes up to \d+ but the file has \d+/);
    await truncate(path, 20);
    await expect(readSafetensorsFile(path)).rejects.toThrow(/truncated: header says \d+ bytes but the file has 20/);
    await truncate(path, 4);
    await expect(readSafetensorsFile(path)).rejects.toThrow(/too short for a safetensors header/);
  });

  it('a header that lies about a tensor size', async () => {
    const path = await headerFile('lies.safetensors', { w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, 20);
    await expect(readSafetensorsFile(path)).rejects.toThrow(/tensor 'w': header lies: shape \[2, 3\] of F32 needs 24 bytes but data_offsets span 20/);
    const overlap = await headerFile(
      'overlap.safetensors',
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
      12,
    );
    await expect(readSafetensorsFile(overlap)).rejects.toThrow(/tensors 'a' and 'b' overlap/);
  });

  it('an unsupported dtype, bad shape, or a header that is not JSON', async () => {
    const fp8 = await headerFile('fp8.safetensors', { q: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, 2);
    await expect(readSafetensorsFile(fp8)).rejects.toThrow(/tensor 'q': dtype "F8_E4M3" is not supported \(supported: F64, F32, F16, BF16/);
    const shape = await headerFile('shape.safetensors', { s: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4);
    await expect(readSafetensorsFile(shape)).rejects.toThrow(/tensor 's': shape \[-1\] is not a list of non-negative integers/);
    const garbage = join(tmp, 'garbage.safetensors');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(5n);
    await writeFile(garbage, Buffer.concat([prefix, Buffer.from('{nope')]));
    await expect(readSafetensorsFile(garbage)).rejects.toThrow(/header is not valid UTF-8 JSON/);
    await writeFile(garbage, Buffer.from('PK\u0003\u0004 this is a zip, not safetensors'));
    await expect(readSafetensorsFile(garbage)).rejects.toThrow(/not a safetensors file|truncated/);
    await expect(readSafetensorsFile(join(tmp, 'absent.safetensors'))).rejects.toThrow(/absent\.safetensors: cannot open: ENOENT/);
  });

  it('a folder without weights, a missing shard, a shard without its tensor', async () => {
    await expect(readSafetensorsFolder(tmp)).rejects.toThrow(/no weights: looked for model.safetensors and model.safetensors.index.json/);
    const index = JSON.parse(await readFile(join(FIXTURES, 'sharded/model.safetensors.index.json'), 'utf8'));
    const folder = await mkdtemp(join(tmp, 'shards-'));
    for (const f of expected.shardFiles) await copyFile(join(FIXTURES, 'sharded', f), join(folder, f));
    index.weight_map['model.extra.weight'] = 'model-00001-of-00002.safetensors';
    await writeFile(join(folder, 'model.safetensors.index.json'), JSON.stringify(index));
    await expect(readSafetensorsFolder(folder)).rejects.toThrow(
      /model-00001-of-00002\.safetensors: tensor 'model.extra.weight' is listed in model.safetensors.index.json but not in this shard/,
    );
    // A filter that skips the lying entry reads the rest.
    expect((await readSafetensorsFolder(folder, { filter: (n) => n !== 'model.extra.weight' })).size).toBe(4);
    await rm(join(folder, 'model-00002-of-00002.safetensors'));
    await expect(readSafetensorsFolder(folder, { filter: (n) => n !== 'model.extra.weight' })).rejects.toThrow(
      /model-00002-of-00002\.safetensors: shard listed by model.safetensors.index.json \(for tensor 'model.layers.0.weight'\) is missing/,
    );
  });

  it('takeTensor: a missing tensor or a wrong shape', async () => {
    const tensors = await readSafetensorsFolder(join(FIXTURES, 'single'));
    expect(takeTensor(tensors, 'f32.weight', [3, 4], 'model').values.length).toBe(12);
    expect(() => takeTensor(tensors, 'lm_head.weight', [4, 3], 'my-model')).toThrow(/my-model: tensor 'lm_head.weight' \(shape \[4, 3\]\) is missing/);
    expect(() => takeTensor(tensors, 'f32.weight', [4, 3], 'model')).toThrow(
      /single\/model\.safetensors: tensor 'f32.weight' has shape \[3, 4\], expected \[4, 3\]/,
    );
  });
});

describe('memory: tensor by tensor from a file handle', () => {
  // arrayBuffers counts every ArrayBuffer alive (no GC forced), so transient read buffers count too.
  const MIB = 1 << 20;
  it('a filtered read loads only the tensors it keeps; a full BF16 read stays under 2x its float32 size', async () => {
    const n = MIB; // 1 Mi elements per tensor
    const tensors = Array.from({ length: 8 }, (_, i) => ({ name: `layer.${i}`, shape: [1024, 1024], values: new Float32Array(n).fill(i) }));
    const f32 = join(tmp, 'big-f32.safetensors');
    const bf16 = join(tmp, 'big-bf16.safetensors');
    await writeSafetensorsFile(f32, tensors);
    await writeSafetensorsFile(bf16, tensors, { dtype: 'BF16' });
    tensors.length = 0;

    let before = process.memoryUsage().arrayBuffers;
    const one = await readSafetensorsFile(f32, { filter: (name) => name === 'layer.5' });
    const grownOne = process.memoryUsage().arrayBuffers - before;
    expect(one.get('layer.5')?.values[7]).toBe(5);
    expect(grownOne).toBeLessThan(6 * MIB); // one 4 MiB tensor, not the 32 MiB file

    before = process.memoryUsage().arrayBuffers;
    const all = await readSafetensorsFile(bf16);
    const grownAll = process.memoryUsage().arrayBuffers - before;
    expect(all.size).toBe(8);
    expect(all.get('layer.3')?.values[n - 1]).toBe(3);
    expect(grownAll).toBeLessThan(2 * 8 * 4 * MIB);
  });
});
