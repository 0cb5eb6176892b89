import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunsWatcherOptions, RunsWatcher, type WatchEvent } from './runs-watcher';
import { resolveInside } from './safe-path';

export interface DashboardOptions extends RunsWatcherOptions {
  /** The runs folder to show (need not exist yet). */
  runsDir: string;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 6006. */
  port?: number;
}

export interface Dashboard {
  url: string;
  port: number;
  host: string;
  watcher: RunsWatcher;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.yaml': 'text/plain; charset=utf-8',
  '.yml': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The runner package's root (holds `web/`): found upward from this module, which is `src/dashboard/` in tests and `dist/` when built. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'rftkit') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('rft dashboard: cannot find the rftkit package folder (its web/ assets)');
    dir = up;
  }
}

/** The page's own files, by URL; nothing else outside the runs folder is ever served. */
function staticAssets(): Map<string, string> {
  const root = packageRoot();
  const require = createRequire(join(root, 'package.json'));
  const uplotDir = dirname(require.resolve('uplot/package.json'));
  return new Map([
    ['/', join(root, 'web', 'index.html')],
    ['/assets/app.js', join(root, 'web', 'app.js')],
    ['/assets/app.css', join(root, 'web', 'app.css')],
    ['/assets/uplot.js', join(uplotDir, 'dist', 'uPlot.iife.min.js')],
    ['/assets/uplot.css', join(uplotDir, 'dist', 'uPlot.min.css')],
  ]);
}

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, JSON.stringify(value), TYPES['.json']);
}

/**
 * `rft dashboard`'s server: the page and its assets, a JSON API over a {@link RunsWatcher},
 * Server-Sent Events with new rows as runs append them, and the run folders' files under
 * `/files/`. Bound to loopback it also refuses requests whose Host header is not a
 * loopback name, so a web page cannot reach it through DNS rebinding.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const assets = staticAssets();
  const watcher = new RunsWatcher(options.runsDir, options);
  const clients = new Set<ServerResponse>();
  const broadcast = (e: WatchEvent) => {
    const { type, ...data } = e;
    const text = `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of clients) c.write(text);
  };
  watcher.on(broadcast);
  await watcher.start();

  const checkHost = LOOPBACK.has(host);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed');
    if (checkHost) {
      const name = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      if (!LOOPBACK.has(name)) return send(res, 403, 'forbidden host');
    }
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q === -1 ? raw : raw.slice(0, q);
    const params = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
    const asset = assets.get(path);
    if (asset) {
      res.writeHead(200, {
        'content-type': TYPES[extname(asset)] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'content-security-policy': PAGE_CSP,
      });
      createReadStream(asset).pipe(res);
      return;
    }
    if (path.startsWith('/files/')) {
      const file = await resolveInside(watcher.root, path.slice('/files/'.length));
      if (!file) return send(res, 404, 'not found');
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // Run files are data, not part of the page: a report.html opened from here runs sandboxed.
        'content-security-policy': 'sandbox',
      });
      createReadStream(file).pipe(res);
      return;
    }
    if (path === '/api/runs') return sendJson(res, { root: watcher.root, ...watcher.list() });
    if (path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 2000\nevent: runs\ndata: ${JSON.stringify(watcher.list())}\n\n`);
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    const run = watcher.run(params.get('run') ?? '');
    if (path === '/api/series' || path === '/api/samples' || path === '/api/config') {
      if (!run) return send(res, 404, 'no such run');
      if (path === '/api/series') {
        const series = (t: (typeof run.tails)['metrics']) => ({ generation: t.generation, start: t.dropped, rows: t.rows });
        return sendJson(res, { metrics: series(run.tails.metrics), eval: series(run.tails.eval) });
      }
      if (path === '/api/samples') {
        const rows = run.tails.samples.rows;
        const steps = [...new Set(rows.map((r) => r.step).filter((s): s is number => typeof s === 'number'))].sort((a, b) => a - b);
        const asked = Number(params.get('step'));
        const step = params.has('step') && steps.includes(asked) ? asked : (steps.at(-1) ?? null);
        return sendJson(res, { steps, step, rows: rows.filter((r) => r.step === step).slice(0, 500) });
      }
      const configFile = await resolveInside(watcher.root, `${run.name}/config.json`);
      const config = configFile ? await readFile(configFile, 'utf8').then((t) => JSON.parse(t) as unknown, () => null) : null;
      return sendJson(res, { config, meta: run.meta?.value ?? null });
    }
    send(res, 404, 'not found');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, `error: ${(e as Error).message}`);
      else res.end();
    });
  });
  // Keep-alive pings: proxies and browsers drop a silent event stream.
  const ping = setInterval(() => {
    for (const c of clients) c.write(': ping\n\n');
  }, 15_000);
  try {
    await new Promise<void>((resolvePromise, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 6006, host, () => {
        server.off('error', reject);
        resolvePromise();
      });
    });
  } catch (e) {
    clearInterval(ping);
    watcher.stop();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    host,
    watcher,
    close: async () => {
      clearInterval(ping);
      watcher.stop();
      for (const c of clients) c.end();
      clients.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
