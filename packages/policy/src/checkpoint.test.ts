import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, type Policy } from '@rftkit/core';
import { describeBackends, expectNoLeaks } from '@rftkit/tensor/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadPolicy, savePolicy } from './checkpoint';
import { createTransformerPolicy } from './policy';
import { leftPad, randomizeWeights } from './test-helpers';
import { createCharTokenizer } from './tokenizer';

const tokenizer = createCharTokenizer({ alphabet: '0123456789+=' });

describeBackends('policy checkpoints', () => {
  let root: string;
  let policy: Policy;
  let dir: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rftkit-policy-'));
    policy = createTransformerPolicy({ tokenizer, dModel: 16, nLayers: 2, nHeads: 4, maxSeqLen: 16, positions: 'rotary', seed: 3 });
    randomizeWeights(policy, 4, 0.3);
    dir = join(root, 'ckpt');
    await savePolicy(dir, policy);
  });

  afterAll(async () => {
    policy.dispose();
    await rm(root, { recursive: true, force: true });
  });

  /** A copy of the saved checkpoint with one file rewritten. */
  async function tampered(name: string, edit: { json?: (m: Record<string, unknown>) => unknown; text?: string; bin?: (b: Buffer) => Buffer }) {
    const out = join(root, name);
    await savePolicy(out, policy);
    if (edit.json || edit.text !== undefined) {
      const m = JSON.parse(await readFile(join(out, 'policy.json'), 'utf8'));
      await writeFile(join(out, 'policy.json'), edit.text ?? JSON.stringify(edit.json!(m)));
    }
    if (edit.bin) await writeFile(join(out, 'weights.bin'), edit.bin(await readFile(join(out, 'weights.bin'))));
    return out;
  }

  async function expectCheckpointError(path: string, pattern: RegExp) {
    const before = tf.memory().numTensors;
    const error = await loadPolicy(path).then(
      (p) => {
        p.dispose();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(pattern);
    expect(tf.memory().numTensors).toBe(before);
  }

  it('writes policy.json with format, version, config, tokenizer, tensors and checksum', async () => {
    const m = JSON.parse(await readFile(join(dir, 'policy.json'), 'utf8'));
    expect(m.format).toBe('rftkit-policy');
    expect(m.version).toBe(1);
    expect(m.config).toEqual(policy.config());
    expect(m.tokenizer).toEqual({ type: 'char', alphabet: '0123456789+=' });
    expect(m.tensors[0]).toEqual({ name: 'tok_emb', shape: [15, 16], offset: 0 });
    expect(m.tensors[1].offset).toBe(15 * 16 * 4);
    expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    const bin = await readFile(join(dir, 'weights.bin'));
    // float32 little-endian, first value of tok_emb.
    expect(bin.readFloatLE(0)).toBe(policy.getWeights()['tok_emb']!.values[0]);
  });

  it('round-trips to identical logits', async () => {
    const input = leftPad([[1, 3, 4, 13, 5], [1, 14]]);
    const loaded = await loadPolicy(dir);
    expect(loaded.config()).toEqual(policy.config());
    expect(loaded.tokenizer.encode('12+3')).toEqual(policy.tokenizer.encode('12+3'));
    await expectNoLeaks(async () => {
      const a = policy.forward(input);
      const b = loaded.forward(input);
      expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
      tf.dispose([a, b]);
    });
    loaded.dispose();
    tf.dispose([input.tokens, input.attentionMask]);
  });

  it('replaces an existing checkpoint folder', async () => {
    const other = createTransformerPolicy({ tokenizer, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 16 });
    const path = join(root, 'replace');
    await savePolicy(path, policy);
    await savePolicy(path, other);
    const loaded = await loadPolicy(path);
    expect(loaded.config()).toEqual(other.config());
    loaded.dispose();
    other.dispose();
  });

  it('fails clearly on a missing folder or file', async () => {
    await expectCheckpointError(join(root, 'nope'), /missing file policy.json/);
    const path = await tampered('no-bin', {});
    await rm(join(path, 'weights.bin'));
    await expectCheckpointError(path, /missing file weights.bin/);
  });

  it('fails clearly on bad JSON, unknown format or version', async () => {
    await expectCheckpointError(await tampered('bad-json', { text: '{"format": ' }), /not valid JSON/);
    await expectCheckpointError(await tampered('fmt', { json: (m) => ({ ...m, format: 'onnx' }) }), /unknown format "onnx"/);
    await expectCheckpointError(await tampered('ver', { json: (m) => ({ ...m, version: 2 }) }), /unsupported version 2/);
  });

  it('fails clearly on a truncated or corrupt weights file', async () => {
    await expectCheckpointError(await tampered('short', { bin: (b) => b.subarray(0, b.length - 4) }), /bytes but the tensors need .*truncated/);
    await expectCheckpointError(
      await tampered('flip', {
        bin: (b) => {
          const c = Buffer.from(b);
          c[100] = c[100]! ^ 0xff;
          return c;
        },
      }),
      /checksum .* \(corrupt\)/,
    );
  });

  it('fails clearly on edited offsets, shapes or config (manifestSha256), and loads folders written without it', async () => {
    const offsets = (m: Record<string, unknown>) => ({
      ...m,
      tensors: (m.tensors as Array<{ offset: number }>).map((t, i) => (i === 1 ? { ...t, offset: t.offset + 4 } : t)),
    });
    await expectCheckpointError(await tampered('offset', { json: offsets }), /policy\.json: .* hash to .*manifestSha256 .* \(edited or corrupt\)/);
    const legacy = (m: Record<string, unknown>) => ({ ...m, manifestSha256: undefined });
    // Without the checksum, an offset that is not back to back is still caught.
    await expectCheckpointError(
      await tampered('offset-legacy', { json: (m) => offsets(legacy(m)) }),
      /tensors\[1\] \('[^']+'\) has byte offset 964, expected 960/,
    );
    const old = await loadPolicy(await tampered('legacy', { json: legacy }));
    expect(old.getWeights().tok_emb!.values).toEqual(policy.getWeights().tok_emb!.values);
    old.dispose();
  });

  it('fails clearly when tensor shapes do not fit the config', async () => {
    // Same byte count, so only the shape check can catch it (checkpoints without manifestSha256).
    const swapped = await tampered('shape', {
      json: (m) => ({
        ...m,
        manifestSha256: undefined,
        tensors: (m.tensors as Array<{ name: string; shape: number[] }>).map((t) =>
          t.name === 'tok_emb' ? { ...t, shape: [16, 15] } : t,
        ),
      }),
    });
    await expectCheckpointError(swapped, /'tok_emb' has shape \[16,15\] but the config gives \[15,16\]/);
    const wrongConfig = await tampered('cfg', { json: (m) => ({ ...m, manifestSha256: undefined, config: { ...(m.config as object), nLayers: 1 } }) });
    await expectCheckpointError(wrongConfig, /'blocks.1.ln1.gamma' is not part of the model/);
    const badConfig = await tampered('cfg2', { json: (m) => ({ ...m, manifestSha256: undefined, config: { ...(m.config as object), nHeads: 3 } }) });
    await expectCheckpointError(badConfig, /invalid config.*nHeads/s);
  });
});
