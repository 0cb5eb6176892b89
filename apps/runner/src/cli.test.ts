import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from './io';
import { runCli } from './program';

function capture(): CliIO & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out(text: string) {
      io.stdout += `${text}\n`;
    },
    err(text: string) {
      io.stderr += `${text}\n`;
    },
  };
  return io;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rft-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('rft CLI', () => {
  it('--help lists every command', async () => {
    const io = capture();
    expect(await runCli(['--help'], io)).toBe(0);
    for (const cmd of ['train', 'eval', 'sft', 'reproduce', 'dashboard', 'list']) expect(io.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
  });

  it('<cmd> --help documents each command', async () => {
    const expected: Record<string, string[]> = {
      train: ['<config>', '--set <path=value>', '--out <dir>', '--resume', '--backend <name>'],
      eval: ['<target>', '--task <id>', '--samples <n>', '--k <list>', '--prompts <n>'],
      sft: ['<config>', '--set <path=value>', '--out <dir>'],
      reproduce: ['<suite>', '--only <names>', '--parallel <n>'],
      list: [],
    };
    for (const [cmd, flags] of Object.entries(expected)) {
      const io = capture();
      expect(await runCli([cmd, '--help'], io)).toBe(0);
      expect(io.stdout).toContain(`Usage: rft ${cmd}`);
      for (const f of flags) expect(io.stdout).toContain(f);
    }
  });

  it('prints config errors with field paths, no stack trace, and exits 2', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(
      path,
      ['task: { use: countdown }', 'policy: { use: transformer }', 'advantage: { use: grpoo }', 'trainer: { steps: 0 }'].join('\n'),
    );
    const io = capture();
    expect(await runCli(['train', path, '--out', join(dir, 'run')], io)).toBe(2);
    expect(io.stderr).toContain(`rft: Invalid config ${path}`);
    expect(io.stderr).toMatch(/advantage\.use: unknown advantage 'grpoo'; available: .*grpo.*rloo/);
    expect(io.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects an unknown --set path and a bad flag value with exit 2', async () => {
    const path = join(dir, 'ok.yaml');
    await writeFile(path, 'task: { use: countdown }\npolicy: { use: transformer }\n');
    const io = capture();
    expect(await runCli(['train', path, '--set', 'trainer.stepz=1'], io)).toBe(2);
    expect(io.stderr).toMatch(/--set trainer\.stepz[\s\S]*allowed at 'trainer': .*steps/);
    const io2 = capture();
    expect(await runCli(['train', path, '--backend', 'gpu'], io2)).toBe(2);
    expect(io2.stderr).toMatch(/Allowed choices are auto, tensorflow, wasm, cpu/);
    const io3 = capture();
    expect(await runCli(['frobnicate'], io3)).toBe(2);
    expect(io3.stderr).toContain("unknown command 'frobnicate'");
  });

  it('lists every registered component by family', async () => {
    const io = capture();
    expect(await runCli(['list'], io)).toBe(0);
    for (const heading of ['Tasks (task):', 'Advantage estimators (advantage):', 'Regularizers (regularizer):', 'Samplers']) {
      expect(io.stdout).toContain(heading);
    }
    expect(io.stdout).toMatch(/^ {2}aepo {2,}AEPO/m);
    expect(io.stdout).toMatch(/^ {2}grpo {2,}\S/m);
    expect(io.stdout).toMatch(/^ {2}countdown {2,}\S/m);
  });
});
