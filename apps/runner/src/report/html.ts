import { join } from 'node:path';
import { writeFileAtomic } from '@rftkit/core';
import type { SampleRow } from '@rftkit/trainer';
import type { RunMeta } from '../run-meta';
import { type ChartData, chartSpec, collectCharts, DEFAULT_CHARTS, groupCharts, renderSvg, type StepRecord } from './charts';
import { escapeHtml, samplesSection } from './samples-table';
import { stepLabel, summarize, type SummaryRow } from './summary';

export interface ReportInput {
  title: string;
  records: readonly StepRecord[];
  /** The resolved config, shown in the report. */
  config?: unknown;
  /** Extra facts: backend, duration, checkpoint, ... */
  facts?: Record<string, string>;
  /** The run folder's run.json: version, commit, seed, backend, threads, wall time. */
  meta?: RunMeta;
  /** Rows of samples.jsonl, shown as tables. */
  samples?: readonly SampleRow[];
  /** The entropy controller's target (AEPO, DCPO, adaptive entropy): a dashed line on the entropy chart. */
  entropyTarget?: number;
}

export interface ReportOutput {
  /** Absolute or run-relative path of report.html. */
  reportPath: string;
  /** Chart id → SVG file path. */
  charts: Record<string, string>;
  summary: SummaryRow[];
}

/** The entropy target of a run config's controller regularizer, when it has one. */
export function entropyTargetOf(config: { regularizers?: ReadonlyArray<{ use: string; with?: Record<string, unknown> }> }): number | undefined {
  for (const r of config.regularizers ?? []) {
    const t = r.with?.targetEntropy;
    if (typeof t === 'number') return t;
  }
  return undefined;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** run.json as report rows (label → value). */
export function metaFacts(meta: RunMeta): Record<string, string> {
  return {
    status: `${meta.status}, ${meta.stepsDone} of ${meta.steps} steps`,
    rftkit: meta.rftkit,
    'git commit': meta.git ? `${meta.git.commit.slice(0, 12)}${meta.git.dirty ? ' (uncommitted changes)' : ''}` : '(not a git checkout)',
    seed: String(meta.seed),
    backend: `${meta.backend}${meta.threads !== undefined ? `, ${meta.threads} thread${meta.threads === 1 ? '' : 's'}` : ''}${meta.simd ? `, ${meta.simd}` : ''}`,
    'wall time': formatSeconds(meta.wallSeconds),
    started: meta.createdAt,
    ...(meta.endedAt ? { ended: meta.endedAt } : {}),
    node: `${meta.node} (${meta.platform})`,
  };
}

/** The share of steps at which an entropy controller chose a temperature above 1. */
function temperatureFacts(records: readonly StepRecord[]): Record<string, string> {
  const temps = records.map((r) => r.metrics['aepo/temperature'] ?? r.metrics['dcpo/temperature']).filter((t): t is number => Number.isFinite(t));
  if (temps.length === 0) return {};
  const high = temps.filter((t) => t > 1).length;
  const values = [...new Set(temps)].sort((a, b) => a - b);
  return {
    'controller temperature': `above 1 on ${high} of ${temps.length} steps (${Math.round((100 * high) / temps.length)}%); values ${values.slice(0, 6).join(', ')}${values.length > 6 ? ', …' : ''}`,
  };
}

function factsTable(facts: Record<string, string>): string {
  const rows = Object.entries(facts).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`);
  return rows.length ? `<table class="facts">${rows.join('\n')}</table>` : '';
}

/** Styles shared by the run report and `rft compare`. */
export const REPORT_CSS = `
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:76rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
td{font-variant-numeric:tabular-nums}.facts th{background:#f6f6f6;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}
pre{background:#f6f6f6;padding:1rem;overflow:auto;font-size:.8rem}
.samples td.text{font-family:ui-monospace,monospace;white-space:pre-wrap;max-width:24rem;word-break:break-word}
.samples tr.good td:nth-child(6){background:#e6f4ea}.samples tr.bad td:nth-child(6){background:#fce8e6}
details{margin:1rem 0}summary{cursor:pointer}
`;

/**
 * Writes `dir/report.html` and one SVG per chart under `dir/charts/`: the curated charts
 * (reward, entropy with the controller's target, pass@k, controller temperature), then one
 * chart per group of every other logged metric (key prefix, custom metrics included). The
 * HTML embeds the SVGs, so it is one file that works offline.
 */
export async function writeReport(dir: string, input: ReportInput): Promise<ReportOutput> {
  const charts: Record<string, string> = {};
  const save = async (id: string, svg: string) => {
    const path = join(dir, 'charts', `${id}.svg`);
    await writeFileAtomic(path, svg);
    charts[id] = path;
  };
  const curated: string[] = [];
  for (const chart of collectCharts(input.records, DEFAULT_CHARTS)) {
    const withRules: ChartData =
      chart.definition.id === 'entropy' && input.entropyTarget !== undefined
        ? { ...chart, rules: [{ label: `target ${input.entropyTarget}`, value: input.entropyTarget }] }
        : chart;
    const svg = await renderSvg(chartSpec(withRules));
    await save(chart.definition.id, svg);
    curated.push(svg);
  }
  const covered = (key: string) => DEFAULT_CHARTS.some((d) => d.match(key));
  const groups: Array<{ group: string; svg: string }> = [];
  for (const g of groupCharts(input.records, covered)) {
    const svg = await renderSvg(g.spec);
    await save(g.id, svg);
    groups.push({ group: g.group, svg });
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
  const facts = {
    ...(input.meta ? metaFacts(input.meta) : {}),
    ...(input.entropyTarget !== undefined ? { 'entropy target': String(input.entropyTarget) } : {}),
    ...temperatureFacts(input.records),
    ...input.facts,
  };
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>${REPORT_CSS}</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
${factsTable(facts)}
<h2>Summary</h2>
<table><tr><th>metric</th><th>start</th><th>end</th><th>change</th></tr>
${rows || '<tr><td colspan="4">no steps logged</td></tr>'}
</table>
<h2>Charts</h2>
<div class="charts">
${curated.map((svg) => `<figure>${svg}</figure>`).join('\n')}
</div>
${groups.length ? `<h2>All metrics, by group</h2>\n${groups.map((g) => `<figure id="group-${escapeHtml(g.group)}">${g.svg}</figure>`).join('\n')}` : ''}
${input.samples === undefined ? '' : `<h2>Samples</h2>\n${samplesSection(input.samples)}`}
${input.config === undefined ? '' : `<h2>Config</h2><pre>${escapeHtml(JSON.stringify(input.config, null, 2))}</pre>`}
</body></html>
`;
  const reportPath = join(dir, 'report.html');
  await writeFileAtomic(reportPath, html);
  return { reportPath, charts, summary };
}
