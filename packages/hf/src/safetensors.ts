// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, ...,
// "__metadata__": {...}}`, then the raw little-endian tensor bytes (offsets relative to 8 + N).
// Tensors are read one at a time from a file handle straight into their float32 arrays, so a
// model needs its float32 size plus one tensor's raw bytes, never a whole-file buffer.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from '@rftkit/core';

/** Element types of the format; every one is upcast to float32 on reading. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};
export const SAFETENSORS_DTYPES = Object.keys(BYTES) as SafetensorsDtype[];

/** One tensor as read: `values` upcast to float32, `dtype` the type it was stored as. */
export interface HfTensor {
  name: string;
  shape: number[];
  dtype: SafetensorsDtype;
  values: Float32Array;
  /** The file it came from (for error messages). */
  file: string;
}

/** One entry of a file's header (what the file says; checked against its size). */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

export interface ReadSafetensorsOptions {
  /** Reads only the tensors whose name passes (the others are never loaded). */
  filter?: (name: string) => boolean;
}

/** Headers larger than this are not a safetensors file (the Python reader uses 100 MB too). */
const MAX_HEADER_BYTES = 100_000_000;

function fail(path: string, reason: string, cause?: unknown): never {
  throw new CheckpointError(path, reason, cause === undefined ? undefined : { cause });
}

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('safetensors I/O needs a little-endian host');
}

async function readExactly(fh: FileHandle, target: Uint8Array, position: number, path: string, what: string): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    // Node caps one read at 2 GiB; read in pieces.
    const length = Math.min(target.byteLength - done, 1 << 30);
    const { bytesRead } = await fh.read(target, done, length, position + done);
    if (bytesRead === 0) fail(path, `file is truncated while reading ${what} (needs bytes up to ${position + target.byteLength})`);
    done += bytesRead;
  }
}

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(BYTES, value);
}

/** Parses and checks a header against the file size: every range inside the file and matching its shape. */
async function readHeaderFrom(fh: FileHandle, path: string): Promise<SafetensorsHeader> {
  const size = (await fh.stat()).size;
  if (size < 8) fail(path, `file is ${size} bytes, too short for a safetensors header`);
  const lenBytes = new Uint8Array(8);
  await readExactly(fh, lenBytes, 0, path, 'the header length');
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) fail(path, `header length ${headerLen} is over ${MAX_HEADER_BYTES} bytes; not a safetensors file`);
  if (8 + headerLen > size) fail(path, `file is truncated: header says ${headerLen} bytes but the file has ${size}`);
  const headerBytes = new Uint8Array(headerLen);
  await readExactly(fh, headerBytes, 8, path, 'the header');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(path, 'header is not valid UTF-8 JSON', e);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(path, 'header is not a JSON object');
  const dataStart = 8 + headerLen;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Object.values(raw).some((v) => typeof v !== 'string')) {
        fail(path, '__metadata__ must map strings to strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `tensor '${name}'`;
    if (typeof raw !== 'object' || raw === null) fail(path, `${where}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (!isDtype(dtype)) fail(path, `${where}: dtype ${JSON.stringify(dtype)} is not supported (supported: ${SAFETENSORS_DTYPES.join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(path, `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      fail(path, `${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * BYTES[dtype];
    const [begin, end] = offsets as [number, number];
    if (end - begin !== expected) {
      fail(path, `${where}: header lies: shape [${shape.join(', ')}] of ${dtype} needs ${expected} bytes but data_offsets span ${end - begin}`);
    }
    if (dataStart + end > size) {
      fail(path, `file is truncated: ${where} needs bytes up to ${dataStart + end} but the file has ${size}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end });
  }
  // Overlapping ranges mean the header is wrong about at least one tensor.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as SafetensorsEntry;
    const cur = sorted[i] as SafetensorsEntry;
    if (cur.begin < prev.end) fail(path, `header lies: tensors '${prev.name}' and '${cur.name}' overlap`);
  }
  return { entries, metadata };
}

/** float16 bits → float32, by table (65536 entries, built once). */
let f16Table: Float32Array | undefined;
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Table = table;
  return table;
}

/** Converts a tensor's raw little-endian bytes to float32. */
function toFloat32(dtype: SafetensorsDtype, raw: Uint8Array, count: number): Float32Array {
  const { buffer, byteOffset } = raw;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, byteOffset, count);
    case 'F64':
      return Float32Array.from(new Float64Array(buffer, byteOffset, count));
    case 'F16': {
      const table = halfTable();
      const src = new Uint16Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[src[i] as number] as number;
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const src = new Uint16Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = (src[i] as number) << 16;
      return out;
    }
    case 'I64': {
      const src = new BigInt64Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(src[i]);
      return out;
    }
    case 'I32':
      return Float32Array.from(new Int32Array(buffer, byteOffset, count));
    case 'I16':
      return Float32Array.from(new Int16Array(buffer, byteOffset, count));
    case 'I8':
      return Float32Array.from(new Int8Array(buffer, byteOffset, count));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(raw.subarray(0, count));
  }
}

async function readEntry(fh: FileHandle, path: string, entry: SafetensorsEntry): Promise<HfTensor> {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const bytes = entry.end - entry.begin;
  // F32 lands directly in the returned array; other types go through one temporary buffer
  // (allocated fresh so typed-array views are aligned).
  const raw = entry.dtype === 'F32' ? new Uint8Array(new Float32Array(count).buffer) : new Uint8Array(new ArrayBuffer(bytes));
  await readExactly(fh, raw.subarray(0, bytes), entry.begin, path, `tensor '${entry.name}'`);
  return { name: entry.name, shape: [...entry.shape], dtype: entry.dtype, values: toFloat32(entry.dtype, raw, count), file: path };
}

async function withFile<T>(path: string, body: (fh: FileHandle) => Promise<T>): Promise<T> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    fail(path, `cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, e);
  }
  try {
    return await body(fh);
  } finally {
    await fh.close();
  }
}

/** Reads only the header (names, dtypes, shapes, byte ranges, metadata), checked against the file size. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  assertLittleEndian();
  return withFile(path, (fh) => readHeaderFrom(fh, path));
}

/** Reads a `.safetensors` file, tensor by tensor, upcasting every tensor to float32. */
export async function readSafetensorsFile(path: string, options: ReadSafetensorsOptions = {}): Promise<Map<string, HfTensor>> {
  assertLittleEndian();
  return withFile(path, async (fh) => {
    const { entries } = await readHeaderFrom(fh, path);
    const out = new Map<string, HfTensor>();
    for (const entry of entries) {
      if (options.filter && !options.filter(entry.name)) continue;
      out.set(entry.name, await readEntry(fh, path, entry));
    }
    return out;
  });
}

export interface WriteSafetensorsOptions {
  /** Stored element type; `BF16` rounds to nearest even. Default `F32`. */
  dtype?: 'F32' | 'BF16';
  metadata?: Record<string, string>;
}

/** float32 → bfloat16 bits, round to nearest even (NaN stays a quiet NaN), as torch does. */
export function float32ToBf16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i] as number;
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = ((b >>> 16) & 0x8000) | 0x7fc0;
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/**
 * Writes tensors as a `.safetensors` file (atomically: temp file, then rename), one tensor at
 * a time, in the order given. Python's `safetensors.safe_open` reads the result.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyArray<{ name: string; shape: number[]; values: Float32Array }>,
  options: WriteSafetensorsOptions = {},
): Promise<void> {
  assertLittleEndian();
  const dtype = options.dtype ?? 'F32';
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) fail(path, `tensor name '${t.name}' is reserved or repeated`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count !== t.values.length) {
      fail(path, `tensor '${t.name}': shape [${t.shape.join(', ')}] does not match its ${t.values.length} values`);
    }
    const bytes = count * BYTES[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  // Pad the header with spaces to a multiple of 8 bytes, as the Python writer does, so the
  // data that follows stays aligned.
  let json = JSON.stringify(header);
  const jsonBytes = new TextEncoder().encode(json).length;
  json += ' '.repeat((8 - ((8 + jsonBytes) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);

  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.write(prefix);
    await fh.write(headerBytes);
    for (const t of tensors) {
      const data = dtype === 'BF16' ? float32ToBf16Bits(t.values) : t.values;
      await fh.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
}
