import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, type Policy, type Tokenizer, writeDirAtomic } from '@rftkit/core';
import { HfTokenizer, parseHfConfig } from '@rftkit/hf';
import { idsOnlyTokenizer, loadHfPolicy } from './hf/load';
import type { LoraSettings } from './hf/lora-options';
import { isHfLoraPolicy } from './hf/lora-policy';
import { archFor, createHfPolicy } from './hf/policy';
import { createTransformerPolicy, type WeightMap } from './policy';
import { tokenizerFromJSON } from './tokenizer';

export const CHECKPOINT_FORMAT = 'rftkit-policy';
export const CHECKPOINT_VERSION = 1;

/** `policy.json` of a checkpoint folder. */
export interface PolicyManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  config: Record<string, unknown>;
  tokenizer: Record<string, unknown>;
  /** Byte offsets into `weights.bin` (float32 little-endian), in write order. */
  tensors: Array<{ name: string; shape: number[]; offset: number }>;
  /** Hex SHA-256 of `weights.bin`. */
  sha256: string;
  /**
   * Hex SHA-256 of `JSON.stringify({ config, tokenizer, tensors })`, so a hand-edited or
   * corrupt offset, shape or config fails loudly. Optional: folders written before it
   * existed load without it.
   */
  manifestSha256?: string;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const manifestDigest = (m: Pick<PolicyManifest, 'config' | 'tokenizer' | 'tensors'>) =>
  sha256(JSON.stringify({ config: m.config, tokenizer: m.tokenizer, tensors: m.tensors }));

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Writes `dir/policy.json` and `dir/weights.bin` atomically: readers see the old folder or
 * the complete new one, never a mix. A LoRA policy stores only its adapters (weights.bin and
 * a PEFT adapter folder's two files beside it); its base is read again from the source folder.
 */
export async function savePolicy(dir: string, policy: Policy): Promise<void> {
  const weights = policy.getWeights();
  const names = Object.keys(weights);
  const total = names.reduce((n, k) => n + weights[k]!.values.length, 0);
  const bytes = new Uint8Array(total * 4);
  const view = new DataView(bytes.buffer);
  const tensors: PolicyManifest['tensors'] = [];
  let offset = 0;
  for (const name of names) {
    const { shape, values } = weights[name]!;
    tensors.push({ name, shape: [...shape], offset });
    for (let i = 0; i < values.length; i++, offset += 4) view.setFloat32(offset, values[i]!, true);
  }
  const described = { config: policy.config(), tokenizer: policy.tokenizer.toJSON(), tensors };
  const manifest: PolicyManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    ...described,
    sha256: sha256(bytes),
    manifestSha256: manifestDigest(described),
  };
  await writeDirAtomic(dir, async (tmp) => {
    await writeFile(join(tmp, 'weights.bin'), bytes);
    await writeFile(join(tmp, 'policy.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (isHfLoraPolicy(policy)) await policy.saveAdapter(tmp);
  });
}

async function readOrFail(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(dir, code === 'ENOENT' ? `missing file ${file}` : `cannot read ${file} (${code ?? e})`, {
      cause: e,
    });
  }
}

function parseManifest(dir: string, text: string): PolicyManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(dir, `policy.json is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const m = json as Partial<PolicyManifest> | null;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new CheckpointError(dir, 'policy.json must hold an object');
  if (m.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(dir, `unknown format ${JSON.stringify(m.format)}; expected '${CHECKPOINT_FORMAT}'`);
  }
  if (m.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(dir, `unsupported version ${JSON.stringify(m.version)}; this rftkit reads version ${CHECKPOINT_VERSION}`);
  }
  if (!m.config || typeof m.config !== 'object') throw new CheckpointError(dir, 'policy.json: config is missing');
  if (!m.tokenizer || typeof m.tokenizer !== 'object') throw new CheckpointError(dir, 'policy.json: tokenizer is missing');
  if (typeof m.sha256 !== 'string') throw new CheckpointError(dir, 'policy.json: sha256 is missing');
  if (!Array.isArray(m.tensors)) throw new CheckpointError(dir, 'policy.json: tensors must be an array');
  for (const [i, t] of m.tensors.entries()) {
    const ok =
      t &&
      typeof t.name === 'string' &&
      Array.isArray(t.shape) &&
      t.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0) &&
      Number.isInteger(t.offset) &&
      t.offset >= 0;
    if (!ok) throw new CheckpointError(dir, `policy.json: tensors[${i}] needs a name, an integer shape and a byte offset`);
  }
  if (m.manifestSha256 !== undefined) {
    const digest = manifestDigest(m as PolicyManifest);
    if (digest !== m.manifestSha256) {
      throw new CheckpointError(
        dir,
        `policy.json: its config, tokenizer and tensor offsets hash to ${digest}, not the recorded manifestSha256 ${m.manifestSha256} (edited or corrupt)`,
      );
    }
  }
  // savePolicy writes the tensors back to back in manifest order.
  let expected = 0;
  for (const [i, t] of m.tensors.entries()) {
    if (t.offset !== expected) {
      throw new CheckpointError(
        dir,
        `policy.json: tensors[${i}] ('${t.name}') has byte offset ${t.offset}, expected ${expected} (tensors are stored back to back in order; edited or corrupt)`,
      );
    }
    expected += sizeOf(t.shape) * 4;
  }
  return m as PolicyManifest;
}

/** An HF policy's config() as saved: config.json plus what the folder had beside it. */
interface SavedHfConfig {
  type: 'hf';
  hf: Record<string, unknown>;
  generation?: Record<string, unknown> | null;
  sourceFolder?: string | null;
  headChunkTokens?: number;
  recompute?: boolean;
  /** A LoRA policy's settings: the checkpoint holds the adapters, the base comes from sourceFolder. */
  lora?: LoraSettings;
}

/** A LoRA checkpoint's policy: the base from its source folder (checked to be the same model), adapters to be set. */
async function buildLoraPolicy(dir: string, saved: SavedHfConfig & { lora: LoraSettings }, tokenizer: Tokenizer): Promise<Policy> {
  const source = saved.sourceFolder;
  if (!source) throw new CheckpointError(dir, 'a LoRA checkpoint needs its base model folder (config.sourceFolder), which is missing');
  let current: unknown;
  try {
    current = JSON.parse(await readFile(join(source, 'config.json'), 'utf8'));
  } catch (e) {
    throw new CheckpointError(dir, `the base model of this LoRA checkpoint is not readable at ${source}/config.json (${(e as Error).message}); the checkpoint holds only the adapters`);
  }
  if (!isDeepStrictEqual(current, saved.hf)) {
    throw new CheckpointError(dir, `the base model at ${source} has a config.json other than the one this LoRA checkpoint was trained on`);
  }
  const { rank, alpha, dropout, targetModules, rslora, seed, baseModel } = saved.lora;
  return loadHfPolicy(source, {
    tokenizer,
    headChunkTokens: saved.headChunkTokens,
    lora: { rank, alpha, dropout, targetModules, rslora, seed, baseModel },
  });
}

/**
 * The policy a manifest describes, with placeholder weights (setWeights fills them).
 * HF policies keep their HF tensor names, so a checkpoint's tensors are the safetensors ones.
 */
async function buildPolicy(dir: string, manifest: PolicyManifest): Promise<Policy> {
  const { type } = manifest.config as { type?: unknown };
  if (type === 'hf') {
    const saved = manifest.config as unknown as SavedHfConfig;
    if (!saved.hf || typeof saved.hf !== 'object') throw new Error('config.hf (the model\'s config.json) is missing');
    const cfg = parseHfConfig(saved.hf, join(dir, 'policy.json#config.hf'));
    const tokenizer =
      (manifest.tokenizer as { type?: unknown }).type === 'hf-ids'
        ? idsOnlyTokenizer(cfg, dir)
        : await HfTokenizer.fromJSON(manifest.tokenizer);
    if (saved.lora) return buildLoraPolicy(dir, saved as SavedHfConfig & { lora: LoraSettings }, tokenizer);
    const weights: WeightMap = {};
    for (const p of archFor(cfg).params) weights[p.name] = { shape: p.shape, values: new Float32Array(sizeOf(p.shape)) };
    return createHfPolicy({
      config: cfg,
      weights,
      tokenizer,
      meta: { rawConfig: saved.hf, generationConfig: saved.generation ?? null, sourceFolder: saved.sourceFolder ?? null },
      headChunkTokens: saved.headChunkTokens,
      recompute: saved.recompute,
    });
  }
  const tokenizer = tokenizerFromJSON(manifest.tokenizer);
  const { type: _type, ...sizes } = manifest.config as { type?: unknown };
  if (type !== 'transformer') throw new Error(`unknown policy type ${JSON.stringify(type)}; known: transformer, hf`);
  return createTransformerPolicy({ ...(sizes as object), tokenizer });
}

/**
 * Loads a checkpoint written by `savePolicy`, verifying format, version, file size,
 * checksum and every tensor's shape against the saved config. Throws `CheckpointError`
 * saying which check failed.
 */
export async function loadPolicy(dir: string): Promise<Policy> {
  const manifest = parseManifest(dir, (await readOrFail(dir, 'policy.json')).toString('utf8'));
  const bin = await readOrFail(dir, 'weights.bin');
  const expectedBytes = manifest.tensors.reduce((n, t) => n + sizeOf(t.shape) * 4, 0);
  if (bin.length !== expectedBytes) {
    throw new CheckpointError(dir, `weights.bin has ${bin.length} bytes but the tensors need ${expectedBytes} (corrupt or truncated)`);
  }
  const digest = sha256(bin);
  if (digest !== manifest.sha256) {
    throw new CheckpointError(dir, `weights.bin checksum ${digest} does not match policy.json's ${manifest.sha256} (corrupt)`);
  }
  let policy: Policy;
  try {
    policy = await buildPolicy(dir, manifest);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(dir, `invalid config or tokenizer in policy.json: ${(e as Error).message}`, { cause: e });
  }
  try {
    const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
    const model = policy.getWeights();
    const weights: WeightMap = {};
    for (const t of manifest.tensors) {
      const own = model[t.name];
      if (!own) throw new Error(`tensor '${t.name}' is not part of the model the config describes`);
      if (own.shape.join(',') !== t.shape.join(',')) {
        throw new Error(`tensor '${t.name}' has shape [${t.shape}] but the config gives [${own.shape}]`);
      }
      const n = sizeOf(t.shape);
      if (t.offset + n * 4 > bin.length) throw new Error(`tensor '${t.name}' runs past the end of weights.bin`);
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = view.getFloat32(t.offset + i * 4, true);
      weights[t.name] = { shape: t.shape, values };
    }
    const missing = Object.keys(model).filter((n) => !(n in weights));
    if (missing.length) throw new Error(`tensors missing from the checkpoint: ${missing.join(', ')}`);
    policy.setWeights(weights);
  } catch (e) {
    policy.dispose();
    throw new CheckpointError(dir, `weights do not match the config: ${(e as Error).message}`, { cause: e });
  }
  return policy;
}
