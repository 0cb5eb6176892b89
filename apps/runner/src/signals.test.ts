import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// These tests run the built CLI (`pnpm build`, or turbo's build before test).
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = join(repo, 'apps/runner/bin/rft.mjs');
const config = join(repo, 'configs/grpo.yaml');
const backend = process.env.RFTKIT_RUNNER_TEST_BACKEND ?? 'wasm';
const STEPS = 5;
const TINY = [
  'data.trainPrompts=16',
  'data.testPrompts=4',
  `trainer.steps=${STEPS}`,
  'trainer.promptsPerStep=2',
  'trainer.samplesPerPrompt=4',
  'trainer.miniBatchSamples=8',
  'trainer.microBatchSamples=8',
  'trainer.sampling.maxNewTokens=8',
  'trainer.eval.every=2',
  'trainer.eval.prompts=2',
  'trainer.eval.samplesPerPrompt=2',
  'trainer.eval.k=[1, 2]',
  'trainer.eval.sampling.maxNewTokens=8',
];
const args = (out: string, ...more: string[]) => ['train', config, ...TINY.flatMap((s) => ['--set', s]), '--backend', backend, '--threads', '1', '--out', out, ...more];

function pnpmAvailable(): boolean {
  return spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).status === 0;
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onStderr` may act (send a signal) as lines arrive. */
function rft(argv: string[], onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin, ...argv], { cwd: repo, env: { ...process.env, npm_lifecycle_event: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, (s) => child.kill(s));
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** metrics.jsonl without wall-clock fields (times and throughputs). */
async function metrics(dir: string): Promise<unknown[]> {
  const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, number>).filter(([k]) => !k.startsWith('time/') && !k.endsWith('_per_s'))));
}

let root: string;
let reference: unknown[];
beforeAll(async () => {
  if (!existsSync(join(repo, 'apps/runner/dist/cli.js'))) throw new Error('apps/runner is not built: run pnpm build');
  root = await mkdtemp(join(tmpdir(), 'rft-signals-'));
  const whole = await rft(args(join(root, 'whole')));
  expect(whole.code, whole.stderr).toBe(0);
  reference = await metrics(join(root, 'whole'));
  expect(reference).toHaveLength(STEPS);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('rft train and signals (built CLI)', () => {
  it('SIGTERM mid-run: finishes the step, saves a checkpoint and the report, exits 143; --resume ends identical', async () => {
    const out = join(root, 'stopped');
    let sent = false;
    const stopped = await rft(args(out), (text, kill) => {
      if (!sent && /step 2\/\d+/.test(text)) {
        sent = true;
        kill('SIGTERM');
      }
    });
    expect(stopped.code, stopped.stderr).toBe(143);
    const latest = (await readFile(join(out, 'checkpoints/latest'), 'utf8')).trim();
    const step = Number(latest.replace('step-', ''));
    expect(step).toBeGreaterThanOrEqual(2);
    expect(step).toBeLessThan(STEPS);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    // The hint is the same command with --resume.
    expect(stopped.stdout).toContain(`continue with: rft train ${config} --set data.trainPrompts=16`);
    expect(stopped.stdout).toMatch(/--set 'trainer\.eval\.k=\[1, 2\]'.* --resume\n/);
    const config_ = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config_.runtime).toMatchObject({ backend, ...(backend === 'wasm' ? { threads: 1 } : {}) });

    // The run folder moved elsewhere resumes too (no absolute paths in it).
    const moved = join(root, 'elsewhere', 'stopped');
    await cp(out, moved, { recursive: true });
    await rm(out, { recursive: true });
    const resumed = await rft(args(moved, '--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await metrics(moved)).toEqual(reference);
  });

  // `pnpm rft` runs the CLI under pnpm (and a shell); SIGTERM to pnpm must not leave the
  // trainer running orphaned: it stops like a SIGTERM to itself, hint naming `pnpm rft`.
  it.skipIf(!pnpmAvailable())('SIGTERM to the `pnpm rft` wrapper: the trainer stops with a checkpoint and a pnpm resume hint', async () => {
    const out = join(root, 'via-pnpm');
    const stopped = await new Promise<Exit>((done, fail) => {
      // Long enough that the run cannot finish before the trainer notices (it polls each second).
      const child = spawn('pnpm', ['rft', ...args(out, '--set', 'trainer.steps=60')], { cwd: repo });
      let stdout = '';
      let stderr = '';
      let sent = false;
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => {
        stderr += d;
        if (!sent && /step 2\/\d+/.test(stderr)) {
          sent = true;
          child.kill('SIGTERM');
        }
      });
      child.on('error', fail);
      // 'close' fires once every holder of the pipes exited: pnpm and the trainer it started.
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
    expect(stopped.stderr).toMatch(/received SIGTERM|parent process \(\d+\) exited/);
    const latest = (await readFile(join(out, 'checkpoints/latest'), 'utf8')).trim();
    expect(Number(latest.replace('step-', ''))).toBeLessThan(60);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    expect(stopped.stdout).toMatch(/continue with: pnpm rft train .* --resume\n/);
  });

  it('a resume with another thread count warns; a changed field names both values', async () => {
    if (backend !== 'wasm') return;
    const out = join(root, 'threads');
    await cp(join(root, 'whole'), out, { recursive: true });
    const other = await rft([...args(out, '--resume'), '--threads', '2', '--set', `trainer.steps=${STEPS}`]);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stderr).toMatch(/WARNING: this run was trained with threads 1 -> 2/);
    const changed = await rft(args(out, '--resume', '--set', 'trainer.epochs=3'));
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/trainer\.epochs.*is 3 here but .* in the run's config\.json/);
  });
});
