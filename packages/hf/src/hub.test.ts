import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModelSourceError, isModelFileWanted, parseHubSource, resolveModelSource } from './hub';

const COMMIT_MAIN = 'a'.repeat(40);
const COMMIT_V1 = 'b'.repeat(40);
let root: string;

/** A cache laid out as huggingface_hub writes it: blobs, snapshot symlinks, refs. */
async function fakeCache(cacheDir: string, repo: string): Promise<void> {
  const repoDir = join(cacheDir, `models--${repo.replace('/', '--')}`);
  await mkdir(join(repoDir, 'blobs'), { recursive: true });
  await mkdir(join(repoDir, 'refs'), { recursive: true });
  for (const [commit, hidden] of [
    [COMMIT_MAIN, 64],
    [COMMIT_V1, 32],
  ] as const) {
    const blob = join(repoDir, 'blobs', `blob-${commit.slice(0, 4)}`);
    await writeFile(blob, JSON.stringify({ model_type: 'llama', hidden_size: hidden }));
    await mkdir(join(repoDir, 'snapshots', commit), { recursive: true });
    await symlink(`../../blobs/blob-${commit.slice(0, 4)}`, join(repoDir, 'snapshots', commit, 'config.json'));
  }
  await writeFile(join(repoDir, 'refs', 'main'), COMMIT_MAIN);
  await writeFile(join(repoDir, 'refs', 'v1'), `${COMMIT_V1}\n`);
}

const savedEnv = { ...process.env };
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rftkit-hf-hub-'));
  await fakeCache(join(root, 'hub'), 'HuggingFaceTB/SmolLM2-135M');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  for (const k of ['HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HUB_OFFLINE']) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

describe('hf: sources', () => {
  it('parses org/name and @revision', () => {
    expect(parseHubSource('hf:Qwen/Qwen3-0.6B')).toEqual({ repo: 'Qwen/Qwen3-0.6B', revision: 'main' });
    expect(parseHubSource('hf:gpt2@v1.0')).toEqual({ repo: 'gpt2', revision: 'v1.0' });
    expect(parseHubSource('./models/x')).toBeNull();
    expect(() => parseHubSource('hf:a/b/c')).toThrow(/expected 'hf:<org>\/<name>'/);
    expect(() => parseHubSource('hf:../etc')).toThrow(ModelSourceError);
    expect(() => parseHubSource('hf:org/name@')).toThrow(/invalid revision/);
  });

  it('resolves refs/main, a tag and a commit in an explicit cache folder', async () => {
    const cacheDir = join(root, 'hub');
    const main = await resolveModelSource('hf:HuggingFaceTB/SmolLM2-135M', { cacheDir });
    expect(main.folder).toBe(join(cacheDir, 'models--HuggingFaceTB--SmolLM2-135M', 'snapshots', COMMIT_MAIN));
    expect(main.hub).toMatchObject({ repo: 'HuggingFaceTB/SmolLM2-135M', revision: 'main', commit: COMMIT_MAIN });
    const v1 = await resolveModelSource('hf:HuggingFaceTB/SmolLM2-135M@v1', { cacheDir });
    expect(v1.hub?.commit).toBe(COMMIT_V1);
    const pinned = await resolveModelSource(`hf:HuggingFaceTB/SmolLM2-135M@${COMMIT_V1}`, { cacheDir });
    expect(pinned.folder).toBe(v1.folder);
  });

  it('finds the cache through HF_HUB_CACHE and HF_HOME', async () => {
    delete process.env.HF_HUB_CACHE;
    delete process.env.HUGGINGFACE_HUB_CACHE;
    process.env.HF_HOME = root; // → $HF_HOME/hub
    expect((await resolveModelSource('hf:HuggingFaceTB/SmolLM2-135M')).hub?.commit).toBe(COMMIT_MAIN);
    process.env.HF_HOME = join(root, 'nowhere');
    process.env.HF_HUB_CACHE = join(root, 'hub');
    expect((await resolveModelSource('hf:HuggingFaceTB/SmolLM2-135M@v1')).hub?.commit).toBe(COMMIT_V1);
  });

  it('absent offline: says where it looked and the command that fetches it', async () => {
    const cacheDir = join(root, 'hub');
    const err = await resolveModelSource('hf:Qwen/Qwen3-0.6B', { cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelSourceError);
    expect(err.code).toBe('E_CHECKPOINT');
    expect(err.message).toContain(join(cacheDir, 'models--Qwen--Qwen3-0.6B'));
    expect(err.message).toContain('huggingface-cli download Qwen/Qwen3-0.6B');
    await expect(resolveModelSource('hf:HuggingFaceTB/SmolLM2-135M@v9', { cacheDir })).rejects.toThrow(
      /revision 'v9' is not in the Hugging Face cache .*huggingface-cli download HuggingFaceTB\/SmolLM2-135M --revision v9/,
    );
    process.env.HF_HUB_OFFLINE = '1';
    await expect(resolveModelSource('hf:Qwen/Qwen3-0.6B', { cacheDir, download: true })).rejects.toThrow(/HF_HUB_OFFLINE is set/);
  });

  it('a local folder, or a clear error when it is not one', async () => {
    expect((await resolveModelSource('hub', { baseDir: root })).folder).toBe(join(root, 'hub'));
    await expect(resolveModelSource('missing-model', { baseDir: root })).rejects.toThrow(/no such folder .*missing-model/);
    await writeFile(join(root, 'file.txt'), 'x');
    await expect(resolveModelSource(join(root, 'file.txt'))).rejects.toThrow(/is not a folder/);
  });

  it('fetches only the files it reads', () => {
    expect(['config.json', 'model-00001-of-00002.safetensors', 'tokenizer.json', 'chat_template.jinja'].every(isModelFileWanted)).toBe(true);
    expect(['pytorch_model.bin', 'onnx/model.onnx', 'README.md', 'model.gguf'].some(isModelFileWanted)).toBe(false);
  });
});
