import type { StepRecord } from './charts';

export interface SummaryRow {
  metric: string;
  /** Value at the first step that logged it (pass@k: the first evaluation). */
  start: number;
  startStep: number;
  end: number;
  endStep: number;
}

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
    const first = points[0];
    const last = points[points.length - 1];
    if (!first || !last) continue;
    rows.push({
      metric,
      start: first.metrics[metric]!,
      startStep: first.step,
      end: last.metrics[metric]!,
      endStep: last.step,
    });
  }
  return rows;
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(4);
}

/** A plain-text table (monospace) of the summary rows. */
export function formatSummaryTable(rows: readonly SummaryRow[]): string {
  const header = ['metric', 'start', 'end', 'change'];
  const body = rows.map((r) => [
    r.metric,
    `${fmt(r.start)} (step ${r.startStep})`,
    `${fmt(r.end)} (step ${r.endStep})`,
    `${r.end - r.start >= 0 ? '+' : ''}${fmt(r.end - r.start)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
