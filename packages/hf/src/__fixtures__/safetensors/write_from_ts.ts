// Writes safetensors files with the TS writer for verify_ts_written.py to load in Python.
// Values go to values.json as raw float32 bytes (JSON would turn -0 into 0).
// Usage: npx tsx write_from_ts.ts <out-folder>
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensorsFile } from '../../safetensors';

const out = process.argv[2];
if (!out) throw new Error('usage: write_from_ts.ts <out-folder>');
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 200;
const tensors = [
  { name: 'model.embed_tokens.weight', shape: [7, 5], values: Float32Array.from({ length: 35 }, rand) },
  { name: 'model.norm.weight', shape: [5], values: Float32Array.of(1, -0, 1.00390625, 3.4028235e38, 1e-42) },
  { name: 'scalar', shape: [], values: Float32Array.of(-2.75) },
  { name: 'empty', shape: [0, 3], values: new Float32Array(0) },
];
await writeSafetensorsFile(join(out, 'f32.safetensors'), tensors, { metadata: { format: 'pt', writer: 'rftkit' } });
await writeSafetensorsFile(join(out, 'bf16.safetensors'), tensors, { dtype: 'BF16' });
await writeFile(join(out, 'values.json'), JSON.stringify(tensors.map((t) => ({ name: t.name, shape: t.shape, f32Base64: Buffer.from(t.values.buffer).toString('base64') }))));
