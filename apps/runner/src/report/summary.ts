import type { StepRecord } from './charts';

export interface SummaryRow {
  metric: string;
  /** Value at the first step that logged it (pass@k: the first evaluation); for per-step
   * training metrics, the mean over the first `window` steps. */
  start: number;
  startStep: number;
  end: number;
  endStep: number;
  /** Steps averaged at each end (1 for evaluation metrics). */
  window: number;
}

/** Per-step training metrics are noisy: start and end average up to this many steps. */
export const SUMMARY_WINDOW = 10;

/** Metrics compared start vs end, in the order shown. */
function summaryKeys(records: readonly StepRecord[]): string[] {
  const seen = new Set(records.flatMap((r) => Object.keys(r.metrics)));
  const fixed = ['reward/mean', 'entropy/exact', 'entropy/nll'].filter((k) => seen.has(k));
  const passAt = [...seen]
    .filter((k) => /(^|\/)(pass|avg)@\d+$/.test(k))
    .sort((a, b) => {
      const ka = /(pass|avg)@(\d+)$/.exec(a)!;
      const kb = /(pass|avg)@(\d+)$/.exec(b)!;
      return ka[1]!.localeCompare(kb[1]!) || Number(ka[2]) - Number(kb[2]);
    });
  return [...fixed, ...passAt];
}

/** Start-vs-end rows for reward, entropy (exact and nll) and every logged pass@k / avg@n. */
export function summarize(records: readonly StepRecord[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const metric of summaryKeys(records)) {
    const points = records.filter((r) => Number.isFinite(r.metrics[metric]));
    if (points.length === 0) continue;
    const isEval = /(pass|avg)@\d+$/.test(metric);
    // Averages over disjoint windows: a short run compares its first and second half.
    const window = isEval ? 1 : Math.max(1, Math.min(SUMMARY_WINDOW, Math.floor(points.length / 2)));
    const mean = (xs: StepRecord[]) => xs.reduce((a, r) => a + r.metrics[metric]!, 0) / xs.length;
    const head = points.slice(0, window);
    const tail = points.slice(points.length - window);
    rows.push({
      metric,
      start: mean(head),
      startStep: head[head.length - 1]!.step,
      end: mean(tail),
      endStep: tail[tail.length - 1]!.step,
      window,
    });
  }
  return rows;
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(4);
}

/** `step 3`, or `steps 1-10` for a windowed mean. */
export function stepLabel(row: SummaryRow, end: 'start' | 'end'): string {
  if (row.window <= 1) return `step ${end === 'start' ? row.startStep : row.endStep}`;
  return end === 'start'
    ? `steps ${row.startStep - row.window + 1}-${row.startStep}`
    : `steps ${row.endStep - row.window + 1}-${row.endStep}`;
}

/** A plain-text table (monospace) of the summary rows. */
export function formatSummaryTable(rows: readonly SummaryRow[]): string {
  const header = ['metric', 'start', 'end', 'change'];
  const body = rows.map((r) => [
    r.metric,
    `${fmt(r.start)} (${stepLabel(r, 'start')})`,
    `${fmt(r.end)} (${stepLabel(r, 'end')})`,
    `${r.end - r.start >= 0 ? '+' : ''}${fmt(r.end - r.start)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
