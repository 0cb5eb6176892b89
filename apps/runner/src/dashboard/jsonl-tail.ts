import { open, stat } from 'node:fs/promises';

export type JsonlRow = Record<string, unknown>;

/** What one poll of a {@link JsonlTail} found. */
export interface TailUpdate {
  /** True when the file was replaced or shortened (a resumed run truncates its logs): `rows` holds everything again. */
  reset: boolean;
  /** Index of the first of `rows` in the file's rows. */
  start: number;
  rows: JsonlRow[];
}

/**
 * Follows a JSONL file that a run appends to: each poll reads only the bytes added since
 * the last one, keeps an unfinished last line for the next poll, and starts over when
 * the file is replaced (another inode) or shorter than what was read, as when
 * `rft train --resume` rewrites `metrics.jsonl` without the steps after its checkpoint.
 * Lines that are not JSON objects are skipped and counted in `skipped`.
 */
export class JsonlTail {
  readonly rows: JsonlRow[] = [];
  /** Bumped on every reset, so that a client holding rows of an older generation refetches. */
  generation = 0;
  skipped = 0;
  private offset = 0;
  private inode: number | undefined;
  private partial: Buffer = Buffer.alloc(0);

  /** `maxRows`: keep only the newest rows (older ones are dropped; `start` indexes stay absolute). */
  constructor(
    readonly path: string,
    private readonly maxRows = Number.POSITIVE_INFINITY,
  ) {}

  /** Index of `rows[0]` among all rows the file held since the last reset. */
  dropped = 0;

  /** Rows read since the last reset (including dropped ones). */
  get total(): number {
    return this.dropped + this.rows.length;
  }

  /** Reads what was appended; undefined when nothing changed (or the file does not exist). */
  async poll(): Promise<TailUpdate | undefined> {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(this.path);
    } catch {
      if (this.inode === undefined && this.total === 0) return undefined;
      this.clear();
      this.inode = undefined;
      return { reset: true, start: 0, rows: [] };
    }
    let reset = false;
    if (this.inode !== undefined && (info.ino !== this.inode || info.size < this.offset)) {
      this.clear();
      reset = true;
    }
    this.inode = info.ino;
    if (info.size === this.offset) return reset ? { reset, start: 0, rows: [] } : undefined;

    const handle = await open(this.path, 'r');
    let chunk: Buffer;
    try {
      chunk = Buffer.alloc(info.size - this.offset);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, this.offset);
      chunk = chunk.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
    this.offset += chunk.length;
    const data = this.partial.length > 0 ? Buffer.concat([this.partial, chunk]) : chunk;
    const end = data.lastIndexOf(0x0a);
    // Split on bytes, not characters: a multi-byte character may straddle two polls.
    this.partial = Buffer.from(end === -1 ? data : data.subarray(end + 1));
    const start = this.total;
    const added: JsonlRow[] = [];
    if (end !== -1) {
      for (const line of data.subarray(0, end).toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        const row = parseRow(line);
        if (row) added.push(row);
        else this.skipped++;
      }
    }
    this.rows.push(...added);
    if (this.rows.length > this.maxRows) {
      const excess = this.rows.length - this.maxRows;
      this.rows.splice(0, excess);
      this.dropped += excess;
    }
    if (added.length === 0 && !reset) return undefined;
    return { reset, start, rows: added };
  }

  private clear(): void {
    this.rows.length = 0;
    this.dropped = 0;
    this.offset = 0;
    this.partial = Buffer.alloc(0);
    this.generation++;
  }
}

function parseRow(line: string): JsonlRow | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonlRow) : undefined;
  } catch {
    return undefined;
  }
}
