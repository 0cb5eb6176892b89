import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
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
  vi.restoreAllMocks();
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

/** A stand-in for the Hub's HTTP API (the endpoints @huggingface/hub calls), serving one repo. */
function fakeHub(repo: string, commit: string, files: Record<string, string>) {
  const requested: string[] = [];
  const oid = (text: string) => createHash('sha1').update(text).digest('hex');
  const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const path = decodeURIComponent(url.pathname);
    requested.push(`${init?.method ?? 'GET'} ${path}`);
    if (path === `/api/models/${repo}/revision/main`) return json({ _id: 'x', id: repo, sha: commit, private: false });
    if (path === `/api/models/${repo}/tree/${commit}`) {
      return json(Object.entries(files).map(([p, text]) => ({ type: 'file', path: p, size: text.length, oid: oid(text) })));
    }
    if (path === `/api/models/${repo}/paths-info/${commit}`) {
      const wanted = JSON.parse(String(init?.body)).paths as string[];
      return json(wanted.map((p) => ({ type: 'file', path: p, size: (files[p] ?? '').length, oid: oid(files[p] ?? '') })));
    }
    const prefix = `/${repo}/resolve/${commit}/`;
    if (path.startsWith(prefix) && files[path.slice(prefix.length)] !== undefined) {
      const body = Buffer.from(files[path.slice(prefix.length)] as string);
      const range = new Headers(init?.headers).get('range')?.match(/bytes=(\d+)-(\d*)/);
      const start = range ? Number(range[1]) : 0;
      const end = range?.[2] ? Number(range[2]) + 1 : body.length;
      return new Response(body.subarray(start, end), {
        status: range ? 206 : 200,
        headers: { 'content-range': `bytes ${start}-${end - 1}/${body.length}`, etag: `"${oid(body.toString())}"` },
      });
    }
    return new Response('not found', { status: 404 });
  };
  return { fetch: fetchImpl as typeof fetch, requested };
}

describe('download: true', () => {
  it('fetches only the files it reads into the standard layout, then resolves offline', async () => {
    const cacheDir = join(root, 'dl-cache');
    const commit = 'c'.repeat(40);
    const config = JSON.stringify({ model_type: 'qwen3' });
    const hub = fakeHub('Qwen/Qwen3-0.6B', commit, {
      'config.json': config,
      'tokenizer.json': '{}',
      'model.safetensors': 'weights',
      'pytorch_model.bin': 'not wanted',
      'README.md': 'not wanted',
    });
    vi.spyOn(console, 'debug').mockImplementation(() => {});
    const first = await resolveModelSource('hf:Qwen/Qwen3-0.6B', { cacheDir, download: true, fetch: hub.fetch, hubUrl: 'https://hub.test' });
    const repoDir = join(cacheDir, 'models--Qwen--Qwen3-0.6B');
    expect(first.folder).toBe(join(repoDir, 'snapshots', commit));
    expect(await readFile(join(repoDir, 'refs', 'main'), 'utf8')).toBe(commit);
    expect(await readFile(join(first.folder, 'config.json'), 'utf8')).toBe(config);
    expect(await readFile(join(first.folder, 'model.safetensors'), 'utf8')).toBe('weights');
    expect(hub.requested.some((r) => r.includes('pytorch_model.bin') || r.includes('README.md'))).toBe(false);
    // Cached now: no network at all, with or without download.
    const failing = (async () => {
      throw new Error('network used');
    }) as typeof fetch;
    expect((await resolveModelSource('hf:Qwen/Qwen3-0.6B', { cacheDir, download: true, fetch: failing })).folder).toBe(first.folder);
    expect((await resolveModelSource('hf:Qwen/Qwen3-0.6B', { cacheDir })).folder).toBe(first.folder);
  });

  it('a failed download names the cache and the cause', async () => {
    const hub = fakeHub('Qwen/Qwen3-0.6B', 'd'.repeat(40), {});
    await expect(
      resolveModelSource('hf:org/absent', { cacheDir: join(root, 'dl-cache'), download: true, fetch: hub.fetch, hubUrl: 'https://hub.test' }),
    ).rejects.toThrow(/Model 'hf:org\/absent': download into .*dl-cache failed/);
  });
});
