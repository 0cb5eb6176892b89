import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../io';
import { runCli } from '../program';

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

describe('rft dashboard', () => {
  it('refuses a bad --port before starting', async () => {
    for (const bad of ['abc', '-1', '65536', '1.5']) {
      const io = capture();
      expect(await runCli(['dashboard', '--port', bad], io), bad).toBe(2);
      expect(io.stderr).toContain('--port must be an integer from 0 to 65535');
    }
  });

  it('names --port when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const io = capture();
      expect(await runCli(['dashboard', '--port', String(port)], io)).toBe(2);
      expect(io.stderr).toContain(`port ${port} is in use`);
    } finally {
      blocker.close();
    }
  });

  it('prints the URL of a page that serves the runs folder, and stops on the signal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rft-dash-cli-'));
    const stop = new AbortController();
    const io = capture();
    const done = runCli(['dashboard', join(dir, 'runs'), '--port', '0'], io, { signal: stop.signal });
    try {
      await expect.poll(() => io.stdout).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\//);
      const url = /http:\/\/\S+\//.exec(io.stdout)?.[0] as string;
      expect(io.stderr).toContain('does not exist yet');
      const body = (await (await fetch(`${url}api/runs`)).json()) as { root: string; exists: boolean };
      expect(body).toMatchObject({ root: join(dir, 'runs'), exists: false });
    } finally {
      stop.abort();
      expect(await done).toBe(0);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
