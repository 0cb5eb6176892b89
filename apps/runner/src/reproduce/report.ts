import { join } from 'node:path';
import { writeFileAtomic } from '@rftkit/core';
import type * as vl from 'vega-lite';
import { type ChartDefinition, chartSpec, collectCharts, renderSvg, type StepRecord } from '../report/charts';
import { summarize } from '../report/summary';
import { formatGroupTable, type GroupSummaryRow, seedBandSpec, seedPassAtKSpec, summarizeGroups } from './seed-groups';

/** One finished run of a suite, as the comparison report needs it. */
export interface SuiteRunResult {
  name: string;
  /** The configuration (suite entry) the run belongs to; its name when the suite has no seeds. */
  group: string;
  seed?: number;
  description?: string;
  /** Regularizer ids, e.g. ['aepo'] ([] for plain GRPO). */
  regularizers: string[];
  /** The entropy target of an AEPO/DCPO controller, when the run has one. */
  targetEntropy?: number;
  records: StepRecord[];
  wallSeconds?: number;
  /** Run folder (absolute). */
  dir: string;
}

/** One row of the comparison table. Start/end of per-step metrics are 10-step means. */
export interface SuiteSummaryRow {
  run: string;
  regularizers: string;
  targetEntropy?: number;
  steps: number;
  reward: [number, number];
  entropyExact: [number, number];
  entropyNll: [number, number];
  /** Mean exact entropy over the second half of the steps (how well a target is held). */
  entropySecondHalf: number;
  passAt1: [number, number];
  /** The largest k evaluated. */
  k: number;
  passAtK: [number, number];
  /** Fraction of steps at which the controller chose a temperature above 1. */
  highTemperatureShare?: number;
  wallSeconds?: number;
}

const SEP = '\u0000';

function startEnd(records: readonly StepRecord[], metric: string): [number, number] {
  const row = summarize(records).find((r) => r.metric === metric);
  return row ? [row.start, row.end] : [Number.NaN, Number.NaN];
}

function largestK(records: readonly StepRecord[]): number {
  const ks = records.flatMap((r) => Object.keys(r.metrics)).map((k) => /(^|\/)pass@(\d+)$/.exec(k)?.[2]).filter(Boolean).map(Number);
  return ks.length ? Math.max(...ks) : 1;
}

export function summarizeRun(run: SuiteRunResult): SuiteSummaryRow {
  const steps = run.records.filter((r) => Number.isFinite(r.metrics['reward/mean']));
  const half = steps.slice(Math.floor(steps.length / 2)).map((r) => r.metrics['entropy/exact']!).filter(Number.isFinite);
  const temps = steps.map((r) => r.metrics['aepo/temperature'] ?? r.metrics['dcpo/temperature']).filter((t): t is number => t !== undefined);
  const k = largestK(run.records);
  return {
    run: run.name,
    regularizers: run.regularizers.length ? run.regularizers.join(' + ') : '(none)',
    targetEntropy: run.targetEntropy,
    steps: steps.length,
    reward: startEnd(run.records, 'reward/mean'),
    entropyExact: startEnd(run.records, 'entropy/exact'),
    entropyNll: startEnd(run.records, 'entropy/nll'),
    entropySecondHalf: half.length ? half.reduce((a, b) => a + b, 0) / half.length : Number.NaN,
    passAt1: startEnd(run.records, 'eval/pass@1'),
    k,
    passAtK: startEnd(run.records, `eval/pass@${k}`),
    highTemperatureShare: temps.length ? temps.filter((t) => t > 1).length / temps.length : undefined,
    wallSeconds: run.wallSeconds,
  };
}

/** Trailing mean over `window` points: per-step reward of several runs is unreadable raw. */
function smoothed(records: readonly StepRecord[], metric: string, window: number): StepRecord[] {
  const points = records.filter((r) => Number.isFinite(r.metrics[metric]));
  let sum = 0;
  return points.map((r, i) => {
    sum += r.metrics[metric]!;
    if (i >= window) sum -= points[i - window]!.metrics[metric]!;
    return { step: r.step, metrics: { [metric]: sum / Math.min(i + 1, window) } };
  });
}

/** Every run's records merged by step, keys prefixed with the run name. */
function overlayRecords(runs: readonly SuiteRunResult[], pick: (run: SuiteRunResult) => readonly StepRecord[]): StepRecord[] {
  const byStep = new Map<number, Record<string, number>>();
  for (const run of runs) {
    for (const r of pick(run)) {
      const m = byStep.get(r.step) ?? {};
      for (const [k, v] of Object.entries(r.metrics)) m[`${run.name}${SEP}${k}`] = v;
      byStep.set(r.step, m);
    }
  }
  return [...byStep.entries()].sort(([a], [b]) => a - b).map(([step, metrics]) => ({ step, metrics }));
}

/** A runner chart with one series per run (label = run name), in suite order. */
async function overlayChart(
  runs: readonly SuiteRunResult[],
  metric: string,
  definition: Omit<ChartDefinition, 'match' | 'label'>,
  pick: (run: SuiteRunResult) => readonly StepRecord[] = (run) => run.records,
  rules?: Array<{ series: string; value: number }>,
): Promise<string | undefined> {
  const full: ChartDefinition = { ...definition, match: (k) => k.endsWith(`${SEP}${metric}`), label: (k) => k.split(SEP)[0]! };
  const [chart] = collectCharts(overlayRecords(runs, pick), [full]);
  if (!chart) return undefined;
  const order = runs.map((r) => r.name).filter((n) => chart.series.has(n));
  chart.series = new Map(order.map((n) => [n, chart.series.get(n)!]));
  const spec = chartSpec(chart) as unknown as Record<string, unknown>;
  if (!rules || rules.length === 0) return renderSvg(spec as unknown as vl.TopLevelSpec);
  // Dashed horizontal lines in each run's colour (e.g. its target entropy).
  const { data, mark, encoding, ...top } = spec;
  const layered = {
    ...top,
    layer: [
      // One colour scale for both layers, in suite order.
      { data, mark, encoding: { ...(encoding as object), color: { ...((encoding as { color: object }).color), scale: { domain: order } } } },
      {
        data: { values: rules.filter((r) => order.includes(r.series)) },
        mark: { type: 'rule', strokeDash: [5, 4], strokeWidth: 1.5 },
        encoding: { y: { field: 'value', type: 'quantitative' }, color: { field: 'series', type: 'nominal', scale: { domain: order } } },
      },
    ],
  };
  return renderSvg(layered as vl.TopLevelSpec);
}

/** pass@k against k at the end of every run, with the starting policy (step 0) as a reference. */
function passAtKSpec(runs: readonly SuiteRunResult[]): vl.TopLevelSpec | undefined {
  const values: Array<{ k: number; value: number; series: string }> = [];
  const points = (metrics: Record<string, number>, series: string) => {
    for (const [key, value] of Object.entries(metrics)) {
      const m = /^eval\/pass@(\d+)$/.exec(key);
      if (m && Number.isFinite(value)) values.push({ k: Number(m[1]), value, series });
    }
  };
  const base = runs[0]?.records.find((r) => r.step === 0 && Object.keys(r.metrics).some((k) => k.startsWith('eval/pass@')));
  if (base) points(base.metrics, 'start (step 0)');
  for (const run of runs) {
    const last = [...run.records].reverse().find((r) => Object.keys(r.metrics).some((k) => k.startsWith('eval/pass@')));
    if (last) points(last.metrics, run.name);
  }
  if (values.length === 0) return undefined;
  // The starting policy last, so each run keeps the colour it has in the other charts.
  const series = [...runs.map((r) => r.name).filter((n) => values.some((v) => v.series === n)), ...(base ? ['start (step 0)'] : [])];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'pass@k on the test split at the end of each run',
    width: 480,
    height: 260,
    background: 'white',
    data: { values },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'k', type: 'quantitative', title: 'k', scale: { type: 'log', base: 2 }, axis: { values: [...new Set(values.map((v) => v.k))] } },
      y: { field: 'value', type: 'quantitative', title: 'pass@k', scale: { domain: [0, 1] } },
      color: { field: 'series', type: 'nominal', title: null, sort: series, scale: { domain: series }, legend: { labelLimit: 260 } },
      strokeDash: { condition: { test: "datum.series === 'start (step 0)'", value: [4, 3] }, value: [1, 0] },
    },
  } as vl.TopLevelSpec;
}

/** The controller's temperature per step, one small panel per run (overlaid 0.8/1.2 steps are unreadable). */
function temperatureSpec(runs: readonly SuiteRunResult[]): vl.TopLevelSpec | undefined {
  const values = runs.flatMap((run) =>
    run.records.flatMap((r) => {
      const t = r.metrics['aepo/temperature'] ?? r.metrics['dcpo/temperature'];
      return t === undefined ? [] : [{ step: r.step, value: t, run: run.name }];
    }),
  );
  if (values.length === 0) return undefined;
  const order = runs.map((r) => r.name).filter((n) => values.some((v) => v.run === n));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Temperature chosen by the entropy controller (AEPO / DCPO) per step',
    background: 'white',
    data: { values },
    facet: { row: { field: 'run', type: 'nominal', title: null, sort: order, header: { labelAngle: 0, labelAlign: 'left' } } },
    spec: {
      width: 480,
      height: 40,
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'value', type: 'quantitative', title: 'T', scale: { zero: false }, axis: { tickCount: 2 } },
      },
    },
  } as vl.TopLevelSpec;
}

export interface ComparisonReport {
  indexPath: string;
  /** Chart id → SVG path. */
  charts: Record<string, string>;
  rows: SuiteSummaryRow[];
  /** Per configuration, mean ± sd over seeds (seeded suites only). */
  groups?: GroupSummaryRow[];
  /** The comparison table as Markdown. */
  markdown: string;
}

const f = (x: number | undefined, digits = 3) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const arrow = ([a, b]: [number, number]) => `${f(a)} → ${f(b)}`;

function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '–';
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** The comparison table as Markdown (also embedded in index.html as HTML). */
export function formatMarkdownTable(rows: readonly SuiteSummaryRow[]): string {
  const k = rows[0]?.k ?? 1;
  const header = ['run', 'regularizers', 'target H', 'reward', 'entropy (exact)', 'entropy (nll)', 'entropy, 2nd half', 'pass@1', `pass@${k}`, 'T>1 share', 'wall'];
  const body = rows.map((r) => [
    r.run,
    r.regularizers,
    f(r.targetEntropy, 2),
    arrow(r.reward),
    arrow(r.entropyExact),
    arrow(r.entropyNll),
    f(r.entropySecondHalf),
    arrow(r.passAt1),
    r.k === k ? arrow(r.passAtK) : `${arrow(r.passAtK)} (k=${r.k})`,
    r.highTemperatureShare === undefined ? '–' : `${Math.round(r.highTemperatureShare * 100)}%`,
    duration(r.wallSeconds),
  ]);
  return [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Writes the comparison of a suite's runs: `dir/index.html` (table + charts, self-contained),
 * `dir/charts/*.svg`, `dir/summary.md` and `dir/summary.json`.
 */
export async function writeComparisonReport(
  dir: string,
  input: { title: string; description?: string; runs: readonly SuiteRunResult[]; facts?: Record<string, string>; seeded?: boolean },
): Promise<ComparisonReport> {
  const { runs } = input;
  if (input.seeded) return writeSeededReport(dir, input);
  const svgs: Array<{ id: string; svg: string }> = [];
  const add = (id: string, svg: string | undefined) => {
    if (svg) svgs.push({ id, svg });
  };
  // Several noisy per-step series overlap: plot 10-step trailing means (each run's own
  // report has the raw series), with each controller's target as a dashed line.
  const targets = runs.flatMap((r) => (r.targetEntropy === undefined ? [] : [{ series: r.name, value: r.targetEntropy }]));
  for (const [id, metric, title] of [
    ['entropy-exact', 'entropy/exact', 'Entropy, exact (softmax, T=1), 10-step mean; dashed: targets'],
    ['entropy-nll', 'entropy/nll', 'Entropy, nll estimator (−log π of sampled tokens), 10-step mean'],
  ] as const) {
    add(id, await overlayChart(runs, metric, { id, title, yTitle: 'nats / token' }, (run) => smoothed(run.records, metric, 10), targets));
  }
  add(
    'reward',
    await overlayChart(runs, 'reward/mean', { id: 'reward', title: 'Train reward (10-step trailing mean)', yTitle: 'mean reward' }, (run) =>
      smoothed(run.records, 'reward/mean', 10),
    ),
  );
  const k = Math.max(...runs.map((r) => largestK(r.records)));
  add('pass-at-1', await overlayChart(runs, 'eval/pass@1', { id: 'pass-at-1', title: 'pass@1 on the test split', yTitle: 'pass@1' }));
  if (k > 1) add(`pass-at-${k}`, await overlayChart(runs, `eval/pass@${k}`, { id: `pass-at-${k}`, title: `pass@${k} on the test split`, yTitle: `pass@${k}` }));
  const pk = passAtKSpec(runs);
  if (pk) add('pass-at-k-end', await renderSvg(pk));
  const temp = temperatureSpec(runs);
  if (temp) add('temperature', await renderSvg(temp));

  const charts = await writeCharts(dir, svgs);
  const rows = runs.map(summarizeRun);
  const markdown = formatMarkdownTable(rows);
  await writeFileAtomic(join(dir, 'summary.md'), `${markdown}\n`);
  await writeFileAtomic(join(dir, 'summary.json'), `${JSON.stringify(rows, null, 2)}\n`);

  const indexPath = await writeIndexHtml(dir, input, markdown, svgs, SUMMARY_NOTE);
  return { indexPath, charts, rows, markdown };
}

const SUMMARY_NOTE = `Reward and entropy: mean of the first 10 steps → mean of the last 10; pass@k: step 0 → last evaluation.
"entropy, 2nd half": mean exact entropy over the second half of the steps. "T&gt;1 share": steps at which the controller chose a temperature above 1.`;

const SEEDED_NOTE = `One row per configuration, mean ± sample sd over its seeds (per-seed values in summary.json).
"(end)": reward and entropy are the mean of the last 10 steps, pass@k the last evaluation. "entropy, 2nd half": mean exact entropy over the second half of the steps;
"holds target ±10%": seeds whose second-half entropy lies within 10% of the target.`;

async function writeIndexHtml(
  dir: string,
  input: { title: string; description?: string; runs: readonly SuiteRunResult[]; facts?: Record<string, string> },
  markdown: string,
  svgs: ReadonlyArray<{ id: string; svg: string }>,
  note: string,
): Promise<string> {
  const { runs } = input;
  const tableHtml = markdown
    .split('\n')
    .filter((_, i) => i !== 1)
    .map((line, i) => {
      const cells = line.slice(2, -2).split(' | ');
      const tag = i === 0 ? 'th' : 'td';
      return `<tr>${cells.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
    })
    .join('\n');
  const facts = Object.entries(input.facts ?? {})
    .map(([key, v]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const links = runs.map((r) => `<li><a href="runs/${r.name.split('/').map(encodeURIComponent).join('/')}/report.html">${escapeHtml(r.name)}</a>${r.description ? ` — ${escapeHtml(r.description)}` : ''}</li>`).join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left}
td{font-variant-numeric:tabular-nums}.charts{display:flex;flex-wrap:wrap;gap:1rem}
</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
${input.description ? `<p>${escapeHtml(input.description)}</p>` : ''}
${facts ? `<table>${facts}</table>` : ''}
<h2>Summary</h2>
<p>${note}</p>
<table>${tableHtml}</table>
<h2>Charts</h2>
<div class="charts">
${svgs.map((s) => `<figure>${s.svg}</figure>`).join('\n')}
</div>
<h2>Runs</h2>
<ul>${links}</ul>
</body></html>
`;
  const indexPath = join(dir, 'index.html');
  await writeFileAtomic(indexPath, html);
  return indexPath;
}

async function writeCharts(dir: string, svgs: ReadonlyArray<{ id: string; svg: string }>): Promise<Record<string, string>> {
  const charts: Record<string, string> = {};
  for (const { id, svg } of svgs) {
    const path = join(dir, 'charts', `${id}.svg`);
    await writeFileAtomic(path, svg);
    charts[id] = path;
  }
  return charts;
}

/** The report of a suite with seeds: per-configuration mean ± sd table, band charts. */
async function writeSeededReport(
  dir: string,
  input: { title: string; description?: string; runs: readonly SuiteRunResult[]; facts?: Record<string, string> },
): Promise<ComparisonReport> {
  const { runs } = input;
  const svgs: Array<{ id: string; svg: string }> = [];
  const add = async (id: string, spec: vl.TopLevelSpec | undefined) => {
    if (spec) svgs.push({ id, svg: await renderSvg(spec) });
  };
  const seen = new Set<string>();
  const targets = runs.flatMap((r) => (r.targetEntropy === undefined || seen.has(r.group) || !seen.add(r.group) ? [] : [{ series: r.group, value: r.targetEntropy }]));
  const smooth = (metric: string) => (run: SuiteRunResult) => smoothed(run.records, metric, 10);
  await add('entropy-exact', seedBandSpec(runs, smooth('entropy/exact'), 'entropy/exact', 'Entropy, exact (softmax, T=1), 10-step mean; dashed: targets', 'nats / token', targets));
  await add('entropy-nll', seedBandSpec(runs, smooth('entropy/nll'), 'entropy/nll', 'Entropy, nll estimator, 10-step mean', 'nats / token'));
  await add('reward', seedBandSpec(runs, smooth('reward/mean'), 'reward/mean', 'Train reward, 10-step mean', 'mean reward'));
  const k = Math.max(...runs.map((r) => largestK(r.records)));
  await add('pass-at-1', seedBandSpec(runs, (r) => r.records, 'eval/pass@1', 'pass@1 on the test split', 'pass@1'));
  if (k > 1) await add(`pass-at-${k}`, seedBandSpec(runs, (r) => r.records, `eval/pass@${k}`, `pass@${k} on the test split`, `pass@${k}`));
  await add('pass-at-k-end', seedPassAtKSpec(runs));
  await add('temperature', temperatureSpec(runs));
  const charts = await writeCharts(dir, svgs);
  const rows = runs.map(summarizeRun);
  const groups = summarizeGroups(runs, rows);
  const markdown = formatGroupTable(groups);
  await writeFileAtomic(join(dir, 'summary.md'), `${markdown}\n`);
  const perSeed = rows.map((row, i) => ({ ...row, group: runs[i]!.group, seed: runs[i]!.seed }));
  await writeFileAtomic(join(dir, 'summary.json'), `${JSON.stringify({ groups, runs: perSeed }, null, 2)}\n`);
  const indexPath = await writeIndexHtml(dir, input, markdown, svgs, SEEDED_NOTE);
  return { indexPath, charts, rows, groups, markdown };
}
