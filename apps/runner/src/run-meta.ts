import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@rftkit/core';
import { PACKAGE_ROOT } from './presets';

/**
 * `run.json` of a run folder: what produced the numbers besides the config (config.json)
 * and where the run stands. Written when training starts (`status: running`), rewritten
 * at the end, so a reader (report, `rft compare`, a live dashboard) can poll it.
 */
export interface RunMeta {
  /** Format version of this file. */
  format: 1;
  /** Run name (the config's file name). */
  name: string;
  /** rftkit version that trained it (the `rftkit` package version). */
  rftkit: string;
  /** The rftkit source commit, when rft runs from a git checkout of rftkit (absent when installed from npm). */
  git?: { commit: string; dirty: boolean };
  seed: number;
  backend: string;
  threads?: number;
  simd?: string;
  node: string;
  platform: string;
  /** The `rft` arguments of the latest session (train or resume). */
  argv: string[];
  /** Config file of the latest session, as given. */
  configPath: string;
  status: 'running' | 'finished' | 'stopped' | 'failed';
  /** Steps the run is configured for, and steps completed (updated at the end of a session). */
  steps: number;
  stepsDone: number;
  /** ISO times: the run's first start, and the latest session's start and end. */
  createdAt: string;
  startedAt: string;
  endedAt?: string;
  /** Training wall time summed over every session (seconds). */
  wallSeconds: number;
  /** Failure message when status is `failed`. */
  error?: string;
}

/** The rftkit checkout's commit when the package root is a tracked folder of a git work tree. */
export function gitInfo(root = PACKAGE_ROOT): RunMeta['git'] {
  const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  try {
    // A package installed inside someone's repository (node_modules, untracked) is not a checkout of rftkit.
    git('ls-files', '--error-unmatch', 'package.json');
    const commit = git('rev-parse', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no').length > 0;
    return { commit, dirty };
  } catch {
    return undefined;
  }
}

export function readRunMeta(dir: string): RunMeta | undefined {
  const path = join(dir, 'run.json');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RunMeta;
  } catch {
    return undefined;
  }
}

export async function writeRunMeta(dir: string, meta: RunMeta): Promise<void> {
  await writeFileAtomic(join(dir, 'run.json'), `${JSON.stringify(meta, null, 2)}\n`);
}
