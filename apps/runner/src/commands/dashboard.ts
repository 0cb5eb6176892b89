import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '@rftkit/core';
import { type Dashboard, startDashboard } from '../dashboard/server';
import type { CliIO } from '../io';

export interface DashboardCommandOptions {
  /** Port; 0 picks a free one. Default: 6006, or the next free one up to 6015. */
  port?: number;
  /** Interface. Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Stops the server. Without it the command serves until the process ends (Ctrl-C). */
  signal?: AbortSignal;
  /** Called once the server listens (tests). */
  onListening?: (dashboard: Dashboard) => void;
}

export const DEFAULT_PORT = 6006;
const PORT_TRIES = 10;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

async function listen(runsDir: string, options: DashboardCommandOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  if (options.port !== undefined) {
    try {
      return await startDashboard({ runsDir, host, port: options.port });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') {
        throw new ConfigError('--port', [{ path: '--port', message: `port ${options.port} is in use on ${host}; choose another, or --port 0 for any free one` }]);
      }
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') {
        throw new ConfigError('--host', [{ path: '--host', message: `cannot listen on ${host}:${options.port} (${code})` }]);
      }
      throw e;
    }
  }
  for (let port = DEFAULT_PORT; ; port++) {
    try {
      return await startDashboard({ runsDir, host, port });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' && port < DEFAULT_PORT + PORT_TRIES - 1) continue;
      if (code === 'EADDRINUSE') {
        throw new ConfigError('--port', [{ path: '--port', message: `ports ${DEFAULT_PORT}–${port} are in use on ${host}; pass --port <n>, or --port 0 for any free one` }]);
      }
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
        throw new ConfigError('--host', [{ path: '--host', message: `cannot listen on ${host} (${code}); use an address of this machine, e.g. 127.0.0.1` }]);
      }
      throw e;
    }
  }
}

/**
 * `rft dashboard [runs-dir]`: serves a page that lists the runs in `runs-dir` and charts
 * them live while they train. Resolves when `signal` aborts.
 */
export async function runDashboard(runsDir: string, options: DashboardCommandOptions, io: CliIO): Promise<void> {
  const root = resolve(runsDir);
  const dashboard = await listen(root, options);
  if (!existsSync(root)) io.err(`note: ${root} does not exist yet; runs appear on the page as soon as rft train writes them there`);
  if (!LOOPBACK.has(dashboard.host)) {
    io.err(`warning: listening on ${dashboard.host}: anyone who can reach this machine can read the runs in ${root}`);
  }
  io.out(`dashboard: ${dashboard.url}  (runs: ${root}; Ctrl-C to stop)`);
  options.onListening?.(dashboard);
  await new Promise<void>((done) => {
    if (!options.signal) return; // serve until the process ends
    if (options.signal.aborted) return done();
    options.signal.addEventListener('abort', () => done(), { once: true });
  });
  await dashboard.close();
}
