import { join } from 'node:path';
import { writeFileAtomic } from '@rftkit/core';
import { chartSpec, collectCharts, DEFAULT_CHARTS, renderSvg, type StepRecord } from './charts';
import { stepLabel, summarize, type SummaryRow } from './summary';

export interface ReportInput {
  title: string;
  records: readonly StepRecord[];
  /** The resolved config, shown in the report. */
  config?: unknown;
  /** Extra facts: backend, duration, checkpoint, ... */
  facts?: Record<string, string>;
}

export interface ReportOutput {
  /** Absolute or run-relative path of report.html. */
  reportPath: string;
  /** Chart id → SVG file path. */
  charts: Record<string, string>;
  summary: SummaryRow[];
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Writes `dir/report.html` and one SVG per chart under `dir/charts/` (reward, entropy,
 * pass@k, AEPO temperature when logged). The HTML embeds the SVGs, so it is one file.
 */
export async function writeReport(dir: string, input: ReportInput): Promise<ReportOutput> {
  const charts: Record<string, string> = {};
  const svgs: Array<{ title: string; svg: string }> = [];
  for (const chart of collectCharts(input.records, DEFAULT_CHARTS)) {
    const svg = await renderSvg(chartSpec(chart));
    const path = join(dir, 'charts', `${chart.definition.id}.svg`);
    await writeFileAtomic(path, svg);
    charts[chart.definition.id] = path;
    svgs.push({ title: chart.definition.title, svg });
  }
  const summary = summarize(input.records);
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
  const rows = summary
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.metric)}</td><td>${fmt(r.start)} <small>(${stepLabel(r, 'start')})</small></td>` +
        `<td>${fmt(r.end)} <small>(${stepLabel(r, 'end')})</small></td><td>${r.end - r.start >= 0 ? '+' : ''}${fmt(r.end - r.start)}</td></tr>`,
    )
    .join('\n');
  const facts = Object.entries(input.facts ?? {})
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
td:not(:first-child){font-variant-numeric:tabular-nums}.charts{display:flex;flex-wrap:wrap;gap:1rem}
pre{background:#f6f6f6;padding:1rem;overflow:auto;font-size:.8rem}
</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
${facts ? `<table>${facts}</table>` : ''}
<h2>Summary</h2>
<table><tr><th>metric</th><th>start</th><th>end</th><th>change</th></tr>
${rows || '<tr><td colspan="4">no steps logged</td></tr>'}
</table>
<h2>Charts</h2>
<div class="charts">
${svgs.map((s) => `<figure>${s.svg}</figure>`).join('\n')}
</div>
${input.config === undefined ? '' : `<h2>Config</h2><pre>${escapeHtml(JSON.stringify(input.config, null, 2))}</pre>`}
</body></html>
`;
  const reportPath = join(dir, 'report.html');
  await writeFileAtomic(reportPath, html);
  return { reportPath, charts, summary };
}
