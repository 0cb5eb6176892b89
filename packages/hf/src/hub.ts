// Where a model comes from: a local folder, or `hf:<org>/<name>[@revision]` in the standard
// Hugging Face cache (the one `huggingface-cli download` and transformers fill):
//   $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub)
//     models--<org>--<name>/refs/<revision>         → commit hash
//     models--<org>--<name>/snapshots/<commit>/...  → the files
// Nothing is fetched unless `download: true`; then only the files rftkit reads are fetched.
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { downloadFileToCacheDir, getHFHubCachePath, getRepoFolderName, listFiles, modelInfo } from '@huggingface/hub';
import { RftError } from '@rftkit/core';

/** A model that cannot be found or fetched; the message says where it looked and what fetches it. */
export class ModelSourceError extends RftError {
  readonly source: string;
  constructor(source: string, reason: string, options?: { cause?: unknown }) {
    super('E_CHECKPOINT', `Model '${source}': ${reason}`, options);
    this.source = source;
  }
}

export interface HubModelRef {
  /** `org/name` (or a legacy `name` without org). */
  repo: string;
  /** Branch, tag or commit; default `main`. */
  revision: string;
}

export interface ResolvedModel {
  /** The folder holding config.json, weights and tokenizer files. */
  folder: string;
  /** The source as given. */
  source: string;
  /** Set for `hf:` sources. */
  hub?: HubModelRef & { commit: string; cacheDir: string };
}

export interface ResolveModelOptions {
  /** Fetch into the cache when absent (never otherwise). Default false. */
  download?: boolean;
  /** Cache folder; default the standard one (HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Resolves relative local folders; default the working directory. */
  baseDir?: string;
  /** Hub access token for gated/private repos; default $HF_TOKEN. */
  accessToken?: string;
  /** Hub endpoint; default $HF_ENDPOINT or https://huggingface.co. */
  hubUrl?: string;
  /** fetch implementation (tests, proxies). */
  fetch?: typeof fetch;
}

/** Files rftkit reads from a model repo; everything else (pytorch_model.bin, onnx, gguf...) is not fetched. */
export function isModelFileWanted(path: string): boolean {
  if (path.includes('/')) return false;
  return (
    path.endsWith('.safetensors') ||
    path === 'model.safetensors.index.json' ||
    path === 'chat_template.jinja' ||
    ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].includes(path)
  );
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const COMMIT = /^[0-9a-f]{40}$/;

/** Parses `hf:<org>/<name>[@revision]`; null for anything not starting with `hf:`. */
export function parseHubSource(source: string): HubModelRef | null {
  if (!source.startsWith('hf:')) return null;
  const spec = source.slice(3);
  const at = spec.indexOf('@');
  const repo = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? 'main' : spec.slice(at + 1);
  const parts = repo.split('/');
  if (parts.length > 2 || !parts.every((p) => NAME.test(p) && !p.includes('--') && !p.endsWith('.'))) {
    throw new ModelSourceError(source, "expected 'hf:<org>/<name>' or 'hf:<org>/<name>@<revision>' (letters, digits, '.', '_', '-')");
  }
  if (!revision || revision.includes('..') || revision.startsWith('/')) throw new ModelSourceError(source, `invalid revision '${revision}'`);
  return { repo, revision };
}

function fetchHint(ref: HubModelRef): string {
  const rev = ref.revision === 'main' ? '' : ` --revision ${ref.revision}`;
  return `fetch it with \`huggingface-cli download ${ref.repo}${rev}\` (or \`hf download ${ref.repo}${rev}\`), or let rft fetch it: \`--download\` on rft train/eval/sft (config: policy.with.download: true)`;
}

/** The snapshot folder of a cached revision, or null (offline lookup only). */
async function cachedSnapshot(cacheDir: string, ref: HubModelRef): Promise<{ folder: string; commit: string } | null> {
  const repoDir = join(cacheDir, getRepoFolderName({ type: 'model', name: ref.repo }));
  let commit = ref.revision;
  if (!COMMIT.test(commit)) {
    const refFile = join(repoDir, 'refs', ref.revision);
    if (!existsSync(refFile)) return null;
    commit = (await readFile(refFile, 'utf8')).trim();
  }
  const folder = join(repoDir, 'snapshots', commit);
  return existsSync(join(folder, 'config.json')) ? { folder, commit } : null;
}

async function download(cacheDir: string, ref: HubModelRef, source: string, options: ResolveModelOptions): Promise<{ folder: string; commit: string }> {
  const accessToken = options.accessToken ?? process.env.HF_TOKEN;
  const hubUrl = options.hubUrl ?? process.env.HF_ENDPOINT;
  const common = { ...(accessToken ? { accessToken } : {}), ...(hubUrl ? { hubUrl } : {}), ...(options.fetch ? { fetch: options.fetch } : {}) };
  const repo = { type: 'model' as const, name: ref.repo };
  try {
    const info = await modelInfo({ ...common, name: ref.repo, revision: ref.revision, additionalFields: ['sha'] });
    const commit = info.sha as string;
    if (ref.revision !== commit) {
      const refPath = join(cacheDir, getRepoFolderName(repo), 'refs', ref.revision);
      await mkdir(dirname(refPath), { recursive: true });
      await writeFile(refPath, commit);
    }
    for await (const entry of listFiles({ ...common, repo, revision: commit })) {
      if (entry.type === 'file' && isModelFileWanted(entry.path)) {
        await downloadFileToCacheDir({ ...common, repo, path: entry.path, revision: commit, cacheDir });
      }
    }
    const folder = join(cacheDir, getRepoFolderName(repo), 'snapshots', commit);
    if (!existsSync(join(folder, 'config.json'))) throw new Error('the repo has no config.json');
    return { folder, commit };
  } catch (e) {
    if (e instanceof ModelSourceError) throw e;
    throw new ModelSourceError(source, `download into ${cacheDir} failed: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Resolves a model source to a folder. A local path must be a folder; `hf:org/name[@rev]` is
 * looked up in the Hugging Face cache and, only with `download: true`, fetched into it.
 */
export async function resolveModelSource(source: string, options: ResolveModelOptions = {}): Promise<ResolvedModel> {
  const ref = parseHubSource(source);
  if (!ref) {
    const folder = resolve(options.baseDir ?? process.cwd(), source);
    if (!existsSync(folder)) throw new ModelSourceError(source, `no such folder ${folder} (for a Hub model write 'hf:<org>/<name>')`);
    if (!statSync(folder).isDirectory()) throw new ModelSourceError(source, `${folder} is not a folder`);
    return { folder, source };
  }
  const cacheDir = options.cacheDir ?? getHFHubCachePath();
  const cached = await cachedSnapshot(cacheDir, ref);
  if (cached) return { folder: cached.folder, source, hub: { ...ref, ...cached, cacheDir } };
  const where = join(cacheDir, getRepoFolderName({ type: 'model', name: ref.repo }));
  if (!options.download) {
    throw new ModelSourceError(source, `revision '${ref.revision}' is not in the Hugging Face cache (looked in ${where}); ${fetchHint(ref)}`);
  }
  if (process.env.HF_HUB_OFFLINE === '1' || process.env.HF_HUB_OFFLINE === 'true') {
    throw new ModelSourceError(source, `not in the cache (looked in ${where}) and HF_HUB_OFFLINE is set; ${fetchHint(ref)} while online`);
  }
  const fetched = await download(cacheDir, ref, source, options);
  return { folder: fetched.folder, source, hub: { ...ref, ...fetched, cacheDir } };
}
