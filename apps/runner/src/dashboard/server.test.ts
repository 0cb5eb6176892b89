import { appendFile, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveInside } from './safe-path';
import { type Dashboard, startDashboard } from './server';

const SECRET = 'the secret outside the runs folder';

/** A GET with the path sent exactly as written (fetch() would normalise `..` away). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface SseEvent {
  event: string;
  data: unknown;
}

/** Connects to the event stream; `next(match)` resolves with the first event (seen or to come) that matches. */
function openEvents(port: number) {
  const events: SseEvent[] = [];
  const waiters: { match: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  let buffer = '';
  const req = request({ host: '127.0.0.1', port, path: '/api/events' }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || data === undefined) continue;
        const e = { event, data: JSON.parse(data) as unknown };
        events.push(e);
        for (const w of waiters.filter((w) => w.match(e))) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    });
  });
  req.end();
  return {
    events,
    next(match: (e: SseEvent) => boolean): Promise<SseEvent> {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    close: () => req.destroy(),
  };
}

const line = (row: object) => `${JSON.stringify(row)}\n`;
const config = (steps: number, extra: object = {}) =>
  JSON.stringify({ seed: 0, task: { use: 'countdown' }, advantage: { use: 'grpo' }, loss: { use: 'ppo-clip' }, regularizers: [{ use: 'aepo' }], trainer: { steps }, ...extra });

let base: string;
let runs: string;
let dash: Dashboard;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'rft-dash-'));
  runs = join(base, 'runs');
  const outside = join(base, 'outside');
  await mkdir(outside, { recursive: true });
  await writeFile(join(base, 'secret.txt'), SECRET);
  await writeFile(join(outside, 'config.json'), config(1, { note: SECRET }));
  await writeFile(join(outside, 'metrics.jsonl'), line({ step: 1, secret: SECRET }));

  // finished: a report newer than its logs, every configured step done.
  const a = join(runs, 'run-a');
  await mkdir(a, { recursive: true });
  await writeFile(join(a, 'config.json'), config(3));
  await writeFile(join(a, 'metrics.jsonl'), [1, 2, 3].map((step) => line({ step, 'reward/mean': step / 10, loss: -step })).join(''));
  await writeFile(join(a, 'eval.jsonl'), line({ step: 0, 'eval/pass@1': 0.1 }) + line({ step: 3, 'eval/pass@1': 0.3 }));
  await writeFile(join(a, 'report.html'), '<html></html>');
  const old = new Date(Date.now() - 60_000);
  for (const f of ['config.json', 'metrics.jsonl', 'eval.jsonl']) await utimes(join(a, f), old, old);
  await writeFile(
    join(a, 'samples.jsonl'),
    line({ step: 2, prompt: 'p1', completion: 'c1', reward: 0, length: 3 }) + line({ step: 3, prompt: 'p2', completion: 'c2', reward: 1, length: 4 }),
  );
  await symlink(join(base, 'secret.txt'), join(a, 'link.txt'));
  await symlink(join(base, 'secret.txt'), join(a, 'run.json'));

  // running: no report, logs written just now.
  const b = join(runs, 'run-b');
  await mkdir(b, { recursive: true });
  await writeFile(join(b, 'config.json'), config(10));
  await writeFile(join(b, 'metrics.jsonl'), line({ step: 1, 'reward/mean': 0.5 }) + line({ step: 2, 'reward/mean': 0.6 }));

  // stopped: a report, but 2 of 5 steps; and run metadata with its own fields.
  const c = join(runs, 'reproduce-x', 'runs', 'run-c');
  await mkdir(c, { recursive: true });
  await writeFile(join(c, 'config.json'), config(5));
  await writeFile(join(c, 'metrics.jsonl'), line({ step: 1 }) + line({ step: 2 }));
  await writeFile(join(c, 'meta.json'), JSON.stringify({ command: 'rft reproduce x', host: 'box' }));
  await writeFile(join(c, 'report.html'), '<html></html>');

  await mkdir(join(runs, 'notes'));
  await writeFile(join(runs, 'notes', 'todo.txt'), 'not a run');
  await symlink(outside, join(runs, 'outside-run'));
  await symlink(base, join(runs, 'up'));

  dash = await startDashboard({ runsDir: runs, port: 0, pollMs: 50 });
});

afterAll(async () => {
  await dash?.close();
  await rm(base, { recursive: true, force: true });
});

describe('rft dashboard server', () => {
  it('lists the run folders (nested ones too) with status, steps and last metrics, and nothing else', async () => {
    const res = await get(dash.port, '/api/runs');
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { root: string; exists: boolean; runs: Record<string, unknown>[] };
    expect(body.exists).toBe(true);
    expect(body.runs.map((r) => r.name)).toEqual(['reproduce-x/runs/run-c', 'run-a', 'run-b']);
    const [c, a, b] = body.runs as {
      status: string;
      step: number;
      steps: number;
      last: Record<string, number>;
      lastEval: Record<string, number>;
      composition: string;
      meta: unknown;
    }[];
    expect([a?.status, b?.status, c?.status]).toEqual(['finished', 'running', 'stopped']);
    expect([a?.step, a?.steps, b?.step, b?.steps, c?.step, c?.steps]).toEqual([3, 3, 2, 10, 2, 5]);
    expect(a?.last).toEqual({ 'reward/mean': 0.3, loss: -3 });
    expect(a?.lastEval).toEqual({ 'eval/pass@1': 0.3 });
    expect(a?.composition).toBe('countdown · grpo · ppo-clip · aepo');
    expect(c?.meta).toEqual({ command: 'rft reproduce x', host: 'box' });
    // run-a's run.json is a symlink out of the folder: not read.
    expect(a?.meta).toBeNull();
    expect(res.body).not.toContain(SECRET);
  });

  it('serves the page, its script and uPlot from its own files', async () => {
    const page = await get(dash.port, '/');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toContain('/assets/app.js');
    for (const asset of ['/assets/app.js', '/assets/app.css', '/assets/uplot.js', '/assets/uplot.css']) {
      const res = await get(dash.port, asset);
      expect(res.status, asset).toBe(200);
      expect(res.body.length, asset).toBeGreaterThan(100);
    }
    expect((await get(dash.port, '/assets/uplot.js')).body).toContain('uPlot');
  });

  it("returns a run's rows so far, its samples by step and its config", async () => {
    const series = JSON.parse((await get(dash.port, '/api/series?run=run-a')).body) as { metrics: { rows: { step: number }[]; start: number }; eval: { rows: unknown[] } };
    expect(series.metrics.rows.map((r) => r.step)).toEqual([1, 2, 3]);
    expect(series.metrics.start).toBe(0);
    expect(series.eval.rows).toHaveLength(2);
    const latest = JSON.parse((await get(dash.port, '/api/samples?run=run-a')).body) as { steps: number[]; step: number; rows: unknown[] };
    expect(latest).toEqual({ steps: [2, 3], step: 3, rows: [{ step: 3, prompt: 'p2', completion: 'c2', reward: 1, length: 4 }] });
    const earlier = JSON.parse((await get(dash.port, '/api/samples?run=run-a&step=2')).body) as { rows: { prompt: string }[] };
    expect(earlier.rows.map((r) => r.prompt)).toEqual(['p1']);
    const none = JSON.parse((await get(dash.port, '/api/samples?run=run-b')).body) as { steps: number[]; rows: unknown[] };
    expect(none).toEqual({ steps: [], step: null, rows: [] });
    const cfg = JSON.parse((await get(dash.port, `/api/config?run=${encodeURIComponent('reproduce-x/runs/run-c')}`)).body) as { config: { trainer: { steps: number } } };
    expect(cfg.config.trainer.steps).toBe(5);
    expect((await get(dash.port, '/api/series?run=nope')).status).toBe(404);
    expect((await get(dash.port, '/api/series?run=..%2Foutside')).status).toBe(404);
  });

  it('pushes rows appended to metrics.jsonl and eval.jsonl over Server-Sent Events', async () => {
    const events = openEvents(dash.port);
    try {
      const first = await events.next((e) => e.event === 'runs');
      expect((first.data as { runs: unknown[] }).runs).toHaveLength(3);
      await appendFile(join(runs, 'run-b', 'metrics.jsonl'), line({ step: 3, 'reward/mean': 0.7 }));
      const rows = await events.next((e) => e.event === 'rows');
      expect(rows.data).toMatchObject({ run: 'run-b', file: 'metrics', reset: false, start: 2, rows: [{ step: 3, 'reward/mean': 0.7 }] });
      const listed = await events.next(
        (e) => e.event === 'runs' && (e.data as { runs: { name: string; step: number }[] }).runs.some((r) => r.name === 'run-b' && r.step === 3),
      );
      expect(listed).toBeDefined();
      // A line written in two pieces arrives once, whole.
      const path = join(runs, 'run-b', 'eval.jsonl');
      await appendFile(path, '{"step":3,"eval/pa');
      await new Promise((r) => setTimeout(r, 200));
      await appendFile(path, 'ss@1":0.25}\n');
      const evalRows = await events.next((e) => e.event === 'rows' && (e.data as { file: string }).file === 'eval');
      expect(evalRows.data).toMatchObject({ run: 'run-b', start: 0, rows: [{ step: 3, 'eval/pass@1': 0.25 }] });
    } finally {
      events.close();
    }
  });

  it('refuses every path out of the runs folder: .., encoded .., absolute paths, symlinks', async () => {
    const ok = await get(dash.port, '/files/run-a/config.json');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ trainer: { steps: 3 } });
    const nested = await get(dash.port, '/files/reproduce-x/runs/run-c/meta.json');
    expect(nested.status).toBe(200);

    const attempts = [
      '/files/../secret.txt',
      '/files/run-a/../../secret.txt',
      '/files/%2e%2e/secret.txt',
      '/files/%2E%2E%2Fsecret.txt',
      '/files/run-a%2f..%2f..%2fsecret.txt',
      '/files/run-a/..%5c..%5csecret.txt',
      '/files/..\\secret.txt',
      '/files/%252e%252e/secret.txt',
      `/files/${base}/secret.txt`,
      `/files/${encodeURIComponent(join(base, 'secret.txt'))}`,
      '/files//etc/passwd',
      '/files/%2Fetc%2Fpasswd',
      '/files/C:%5CWindows%5Cwin.ini',
      '/files/run-a/link.txt',
      '/files/run-a/run.json',
      '/files/outside-run/config.json',
      '/files/up/secret.txt',
      '/files/run-a/config.json%00.txt',
      '/files/%E0%A4%A',
      '/files/run-a',
      '/files/',
      '/assets/../package.json',
      '/assets/%2e%2e/package.json',
      '/../secret.txt',
    ];
    for (const path of attempts) {
      const res = await get(dash.port, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain(SECRET);
    }
  });

  it('resolveInside accepts names inside the folder and refuses the rest', async () => {
    expect(await resolveInside(runs, 'run-a/config.json')).toBe(join(runs, 'run-a', 'config.json'));
    expect(await resolveInside(runs, 'run-a%2Fconfig.json')).toBe(join(runs, 'run-a', 'config.json'));
    for (const p of ['..', '../secret.txt', 'run-a/./config.json', '%2e%2e/secret.txt', join(base, 'secret.txt'), 'run-a/link.txt', 'up/secret.txt']) {
      expect(await resolveInside(runs, p), p).toBeUndefined();
    }
  });

  it('refuses other methods and Host headers that are not loopback (DNS rebinding)', async () => {
    expect((await get(dash.port, '/api/runs', {}, 'POST')).status).toBe(405);
    expect((await get(dash.port, '/api/runs', { host: 'evil.example:80' })).status).toBe(403);
    expect((await get(dash.port, '/api/runs', { host: `localhost:${dash.port}` })).status).toBe(200);
    expect((await get(dash.port, '/api/runs', { host: `[::1]:${dash.port}` })).status).toBe(200);
  });

  it('shows an empty or missing runs folder as no runs, not an error', async () => {
    const missing = await startDashboard({ runsDir: join(base, 'no-such-folder'), port: 0, pollMs: 50 });
    const emptyDir = join(base, 'empty');
    await mkdir(emptyDir);
    const empty = await startDashboard({ runsDir: emptyDir, port: 0, pollMs: 50 });
    try {
      expect(JSON.parse((await get(missing.port, '/api/runs')).body)).toMatchObject({ exists: false, runs: [] });
      expect((await get(missing.port, '/')).status).toBe(200);
      expect(JSON.parse((await get(empty.port, '/api/runs')).body)).toMatchObject({ exists: true, runs: [] });
      // A run that appears later is listed.
      await mkdir(join(emptyDir, 'late'));
      await writeFile(join(emptyDir, 'late', 'metrics.jsonl'), line({ step: 1 }));
      await empty.watcher.poll();
      expect(JSON.parse((await get(empty.port, '/api/runs')).body).runs.map((r: { name: string }) => r.name)).toEqual(['late']);
    } finally {
      await missing.close();
      await empty.close();
    }
  });
});
