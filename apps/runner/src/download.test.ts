// `--download` for hf: models, offline: an absent model without the flag names the cache and the
// command that fetches it; with the flag and no network the error says the download failed; and
// against a local stand-in for the Hub (HF_ENDPOINT) the real download path fills the standard
// cache with a tiny model.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HfPolicy, loadHfPolicy } from '@rftkit/policy';
import { runEval } from './commands/eval';
import { runTrain } from './commands/train';
import type { CliIO } from './io';

const TINY_MODEL = join(dirname(fileURLToPath(import.meta.url)), '../../../packages/policy/src/__fixtures__/hf/qwen3');
const quiet: CliIO = { out: () => {}, err: () => {} };
const COMMIT = 'e'.repeat(40);
let root: string;
const saved = { HF_HUB_CACHE: process.env.HF_HUB_CACHE, HF_ENDPOINT: process.env.HF_ENDPOINT, HF_HUB_OFFLINE: process.env.HF_HUB_OFFLINE };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rft-download-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

async function writeConfig(model: string): Promise<string> {
  const path = join(root, `run-${createHash('sha1').update(model).digest('hex').slice(0, 6)}.yaml`);
  await writeFile(
    path,
    [
      'backend: cpu',
      'task: { use: countdown }',
      `policy: { use: hf, with: { model: "${model}" } }`,
      'data: { trainPrompts: 4, testPrompts: 0 }',
      'trainer: { steps: 1, promptsPerStep: 2, samplesPerPrompt: 2, miniBatchSamples: 4, microBatchSamples: 4, sampling: { maxNewTokens: 2 }, eval: { every: 0 } }',
      '',
    ].join('\n'),
  );
  return path;
}

/** The Hub endpoints @huggingface/hub calls, over HTTP, serving one repo from a folder. */
function serveRepo(repo: string, folder: string): Promise<{ server: Server; url: string; requests: string[] }> {
  const files = Object.fromEntries(readdirSync(folder).map((f) => [f, readFileSync(join(folder, f))]));
  const oid = (b: Buffer) => createHash('sha1').update(b).digest('hex');
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(`${req.method} ${path}`);
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const entry = (p: string) => ({ type: 'file', path: p, size: files[p]!.length, oid: oid(files[p]!) });
    if (path === `/api/models/${repo}/revision/main`) return json({ _id: 'x', id: repo, sha: COMMIT, private: false });
    if (path === `/api/models/${repo}/tree/${COMMIT}`) return json(Object.keys(files).map(entry));
    if (path === `/api/models/${repo}/paths-info/${COMMIT}`) {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => json((JSON.parse(body).paths as string[]).filter((p) => files[p]).map(entry)));
      return;
    }
    const prefix = `/${repo}/resolve/${COMMIT}/`;
    const file = path.startsWith(prefix) ? files[path.slice(prefix.length)] : undefined;
    if (file) {
      const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      const start = range ? Number(range[1]) : 0;
      const end = range?.[2] ? Number(range[2]) + 1 : file.length;
      res.writeHead(range ? 206 : 200, { 'content-range': `bytes ${start}-${end - 1}/${file.length}`, etag: `"${oid(file)}"`, 'content-length': end - start });
      res.end(req.method === 'HEAD' ? undefined : file.subarray(start, end));
      return;
    }
    res.writeHead(404);
    res.end('not found');
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests })));
}

describe('--download', () => {
  it('absent without the flag: the error names the cache folder and the commands that fetch it', async () => {
    process.env.HF_HUB_CACHE = join(root, 'cache-a');
    const config = await writeConfig('hf:org/absent-model');
    const err = await runTrain(config, { out: join(root, 'out-a') }, quiet).catch((e) => e);
    expect(err.message).toContain(join(root, 'cache-a', 'models--org--absent-model'));
    expect(err.message).toContain('huggingface-cli download org/absent-model');
    expect(err.message).toContain('--download');
  });

  it('absent with the flag and no network: a clear download error', async () => {
    process.env.HF_HUB_CACHE = join(root, 'cache-b');
    process.env.HF_ENDPOINT = 'http://127.0.0.1:9'; // nothing listens there
    const config = await writeConfig('hf:org/absent-model');
    await expect(runTrain(config, { out: join(root, 'out-b'), download: true }, quiet)).rejects.toThrow(
      /Model 'hf:org\/absent-model': download into .*cache-b failed/,
    );
    // rft eval takes an hf: model too, with the same errors.
    await expect(runEval('hf:org/absent-model', { task: 'countdown', backend: 'cpu' }, quiet)).rejects.toThrow(/huggingface-cli download org\/absent-model/);
    await expect(runEval('hf:org/absent-model', { task: 'countdown', backend: 'cpu', download: true }, quiet)).rejects.toThrow(/download into .* failed/);
    // The flag needs an hf policy, and eval's flag an hf: target.
    const plain = join(root, 'plain.yaml');
    await writeFile(plain, 'backend: cpu\ntask: { use: countdown }\npolicy: { use: transformer }\n');
    await expect(runTrain(plain, { out: join(root, 'out-c'), download: true }, quiet)).rejects.toThrow(/--download: fetches a Hugging Face model/);
    await expect(runEval(TINY_MODEL, { download: true, task: 'countdown', backend: 'cpu' }, quiet)).rejects.toThrow(/--download: fetches a Hub model, so the target must be hf:/);
  });

  it('fetches a tiny model from a local Hub (HF_ENDPOINT) into the standard cache, then works offline', async () => {
    const hub = await serveRepo('org/tiny-qwen3', TINY_MODEL);
    try {
      const cache = join(root, 'cache-c');
      process.env.HF_HUB_CACHE = cache;
      process.env.HF_ENDPOINT = hub.url;
      const config = await writeConfig('hf:org/tiny-qwen3');
      // The fixture has weights but no tokenizer, so the run stops at its first prompt: after the download.
      await expect(runTrain(config, { out: join(root, 'out-d'), download: true }, quiet)).rejects.toThrow(/loaded without a tokenizer/);
      const snapshot = join(cache, 'models--org--tiny-qwen3', 'snapshots', COMMIT);
      for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) {
        expect(await readFile(join(snapshot, f)), f).toEqual(readFileSync(join(TINY_MODEL, f)));
      }
      // Only the files rftkit reads are fetched (the fixture's expected.json is not).
      expect(readdirSync(snapshot).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
      expect(hub.requests.some((r) => r.includes('expected.json') && r.includes('/resolve/'))).toBe(false);
      expect(await readFile(join(cache, 'models--org--tiny-qwen3', 'refs', 'main'), 'utf8')).toBe(COMMIT);
      // Cached now: resolved with no network and no flag.
      hub.server.close();
      process.env.HF_HUB_OFFLINE = '1';
      const policy = (await loadHfPolicy('hf:org/tiny-qwen3')) as HfPolicy;
      expect(policy.meta.sourceFolder).toBe(snapshot);
      policy.dispose();
    } finally {
      hub.server.close();
    }
  });
});
