import { appendFile, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@rftkit/core';

/** Appends one JSON row; each call opens, writes and closes, so a crash loses at most this row. */
export async function appendJsonl(path: string, row: Record<string, unknown>): Promise<void> {
  await appendFile(path, `${JSON.stringify(row)}\n`);
}

/** Rows of a JSONL file (missing file = none). Unparseable lines (a torn last write) are dropped. */
export async function readJsonl(path: string): Promise<Array<Record<string, unknown>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const rows: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partially written final line from an interrupted run
    }
  }
  return rows;
}

/** Keeps only rows whose `step` ≤ `maxStep` (rows written after the checkpoint a run resumes from). */
export async function truncateJsonl(path: string, maxStep: number): Promise<void> {
  const rows = (await readJsonl(path)).filter((r) => typeof r.step === 'number' && r.step <= maxStep);
  await writeFileAtomic(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
}
