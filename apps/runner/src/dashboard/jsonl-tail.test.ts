import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JsonlTail } from './jsonl-tail';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rft-tail-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const line = (row: object) => `${JSON.stringify(row)}\n`;

describe('JsonlTail', () => {
  it('reports nothing for a file that does not exist, then its rows once it does', async () => {
    const tail = new JsonlTail(join(dir, 'metrics.jsonl'));
    expect(await tail.poll()).toBeUndefined();
    await writeFile(tail.path, line({ step: 1, loss: 0.5 }) + line({ step: 2, loss: 0.25 }));
    expect(await tail.poll()).toEqual({ reset: false, start: 0, rows: [{ step: 1, loss: 0.5 }, { step: 2, loss: 0.25 }] });
    expect(await tail.poll()).toBeUndefined();
  });

  it('returns only the rows appended since the last poll, with their index', async () => {
    const tail = new JsonlTail(join(dir, 'metrics.jsonl'));
    await writeFile(tail.path, line({ step: 1 }));
    await tail.poll();
    await appendFile(tail.path, line({ step: 2 }) + line({ step: 3 }));
    expect(await tail.poll()).toEqual({ reset: false, start: 1, rows: [{ step: 2 }, { step: 3 }] });
    expect(tail.rows.map((r) => r.step)).toEqual([1, 2, 3]);
  });

  it('holds an unfinished last line until its newline arrives, even inside a multi-byte character', async () => {
    const tail = new JsonlTail(join(dir, 'samples.jsonl'));
    const full = Buffer.from(line({ step: 1, completion: 'ünïcode → ok' }));
    const cut = full.indexOf(Buffer.from('→')) + 1; // in the middle of the 3-byte arrow
    await writeFile(tail.path, full.subarray(0, cut));
    expect(await tail.poll()).toBeUndefined();
    await appendFile(tail.path, full.subarray(cut));
    expect((await tail.poll())?.rows).toEqual([{ step: 1, completion: 'ünïcode → ok' }]);
  });

  it('skips lines that are not JSON objects and counts them', async () => {
    const tail = new JsonlTail(join(dir, 'metrics.jsonl'));
    await writeFile(tail.path, `${line({ step: 1 })}not json\n[1,2]\n\n${line({ step: 2 })}`);
    expect((await tail.poll())?.rows).toEqual([{ step: 1 }, { step: 2 }]);
    expect(tail.skipped).toBe(2);
  });

  it('starts over when the file is replaced, as a resumed run rewrites its log', async () => {
    const tail = new JsonlTail(join(dir, 'metrics.jsonl'));
    await writeFile(tail.path, line({ step: 1 }) + line({ step: 2 }) + line({ step: 3 }));
    await tail.poll();
    const generation = tail.generation;
    // The trainer's truncateJsonl: write the kept rows to a new file and rename it over the log;
    // the resumed run then appends more than was cut, so the size alone would not tell.
    await writeFile(join(dir, 'tmp'), line({ step: 1 }) + line({ step: 2, resumed: true, padding: 'x'.repeat(50) }));
    await rename(join(dir, 'tmp'), tail.path);
    const update = await tail.poll();
    expect(update).toEqual({ reset: true, start: 0, rows: [{ step: 1 }, { step: 2, resumed: true, padding: 'x'.repeat(50) }] });
    expect(tail.generation).toBe(generation + 1);
    expect(tail.rows).toHaveLength(2);
  });

  it('starts over when the file shrinks in place', async () => {
    const tail = new JsonlTail(join(dir, 'metrics.jsonl'));
    await writeFile(tail.path, line({ step: 1 }) + line({ step: 2 }));
    await tail.poll();
    await writeFile(tail.path, line({ step: 1 }));
    expect(await tail.poll()).toEqual({ reset: true, start: 0, rows: [{ step: 1 }] });
  });

  it('reports a deleted file as a reset to no rows', async () => {
    const tail = new JsonlTail(join(dir, 'metrics.jsonl'));
    await writeFile(tail.path, line({ step: 1 }));
    await tail.poll();
    await rm(tail.path);
    expect(await tail.poll()).toEqual({ reset: true, start: 0, rows: [] });
    expect(await tail.poll()).toBeUndefined();
  });

  it('keeps only the newest maxRows rows, with indexes that stay absolute', async () => {
    const tail = new JsonlTail(join(dir, 'samples.jsonl'), 3);
    await writeFile(tail.path, [1, 2, 3, 4].map((step) => line({ step })).join(''));
    expect((await tail.poll())?.start).toBe(0);
    await appendFile(tail.path, line({ step: 5 }));
    expect(await tail.poll()).toEqual({ reset: false, start: 4, rows: [{ step: 5 }] });
    expect(tail.rows.map((r) => r.step)).toEqual([3, 4, 5]);
    expect(tail.dropped).toBe(2);
    expect(tail.total).toBe(5);
  });
});
