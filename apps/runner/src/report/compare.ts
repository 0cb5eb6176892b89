import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ConfigError, writeFileAtomic } from '@rftkit/core';
import { readJsonl } from '@rftkit/trainer';
import type * as vl from 'vega-lite';
import { stepRecords } from '../commands/train';
import { readRunMeta, type RunMeta } from '../run-meta';
import { metricGroup, renderSvg, type StepRecord } from './charts';
import { entropyTargetOf, metaFacts, REPORT_CSS } from './html';
import { escapeHtml } from './samples-table';
import { summarize } from './summary';

/** A run folder as `rft compare` reads it. */
export interface ComparedRun {
  /** Label: the folder name (made unique). */
  name: string;
  dir: string;
  config: Record<string, unknown>;
  meta?: RunMeta;
  records: StepRecord[];
}

/** Reads a run folder (config.json and metrics.jsonl required); a clear error names what is missing. */
export async function readRunFolder(dir: string): Promise<ComparedRun> {
  const abs = resolve(dir);
  for (const f of ['config.json', 'metrics.jsonl']) {
    if (!existsSync(join(abs, f))) throw new ConfigError(dir, [{ path: '', message: `not a run folder: ${f} is missing` }]);
  }
  const config = JSON.parse(readFileSync(join(abs, 'config.json'), 'utf8')) as Record<string, unknown>;
  const history = (await readJsonl(join(abs, 'metrics.jsonl'))) as Array<Record<string, number>>;
  const evals = (await readJsonl(join(abs, 'eval.jsonl'))) as Array<Record<string, number>>;
  return { name: basename(abs), dir: abs, config, meta: readRunMeta(abs), records: stepRecords({ history, evals }) };
}

function flatten(value: unknown, path = '', out = new Map<string, string>()): Map<string, string> {
  // Arrays by index (regularizers[0].with.targetEntropy), so a diff names the leaf that differs.
  if (Array.isArray(value) && value.length > 0) {
    for (const [i, v] of value.entries()) flatten(v, `${path}[${i}]`, out);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  } else out.set(path, JSON.stringify(value));
  return out;
}

/** Config fields (dotted paths) whose values differ between the runs, with each run's value (`–` when absent). */
export function configDiff(runs: readonly ComparedRun[]): Array<{ path: string; values: string[] }> {
  const flat = runs.map((r) => flatten(r.config));
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort();
  return paths
    .map((path) => ({ path, values: flat.map((f) => f.get(path) ?? '–') }))
    .filter((d) => new Set(d.values).size > 1);
}

/** The last evaluation's pass@k (and avg@n) of each run, keyed by metric. */
export function finalEval(runs: readonly ComparedRun[]): { keys: string[]; rows: Array<{ run: string; step?: number; values: Record<string, number> }> } {
  const rows = runs.map((r) => {
    const last = [...r.records].reverse().find((x) => Object.keys(x.metrics).some((k) => /^eval\/(pass|avg)@\d+$/.test(k)));
    const values = Object.fromEntries(Object.entries(last?.metrics ?? {}).filter(([k]) => /^eval\/(pass|avg)@\d+$/.test(k)));
    return { run: r.name, step: last?.step, values };
  });
  const order = (k: string) => (k.includes('avg@') ? 1e6 : 0) + Number(/@(\d+)$/.exec(k)![1]);
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.values)))].sort((a, b) => order(a) - order(b));
  return { keys, rows };
}

const fmt = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(4));

/** The terminal table: config differences, then final evaluation and start → end of the main metrics. */
export function formatCompareTable(runs: readonly ComparedRun[]): string {
  const table = (header: string[], body: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
  };
  const names = runs.map((r) => r.name);
  const diff = configDiff(runs);
  const parts = [diff.length ? table(['config', ...names], diff.map((d) => [d.path, ...d.values])) : 'configs: identical'];
  const { keys, rows } = finalEval(runs);
  const summaries = runs.map((r) => new Map(summarize(r.records).map((s) => [s.metric, s])));
  const body = rows.map((row, i) => {
    const s = summaries[i]!;
    const end = (m: string) => fmt(s.get(m)?.end);
    return [row.run, String(runs[i]!.records.filter((x) => Number.isFinite(x.metrics['reward/mean'])).length), end('reward/mean'), end('entropy/exact'), ...keys.map((k) => fmt(row.values[k]))];
  });
  parts.push(table(['run', 'steps', 'reward (end)', 'entropy (end)', ...keys.map((k) => k.replace(/^eval\//, ''))], body));
  return parts.join('\n\n');
}

/**
 * Runs whose configs differ only in `seed` (seeds of one config): label → members. A
 * group of several is drawn as its mean with a ±1 sd band.
 */
export function seedGroups(runs: readonly ComparedRun[]): Map<string, ComparedRun[]> {
  const byConfig = new Map<string, ComparedRun[]>();
  for (const r of runs) {
    const { seed: _seed, runtime: _runtime, ...rest } = r.config as Record<string, unknown>;
    const trainer = { ...(rest.trainer as Record<string, unknown> | undefined) };
    delete trainer.seed;
    const key = JSON.stringify({ ...rest, trainer });
    byConfig.set(key, [...(byConfig.get(key) ?? []), r]);
  }
  const out = new Map<string, ComparedRun[]>();
  for (const members of byConfig.values()) {
    const label = members.length === 1 ? members[0]!.name : `${members[0]!.name} +${members.length - 1} (${members.length} seeds, mean ± sd)`;
    out.set(label, members);
  }
  return out;
}

/** Overlay of one metric across runs (one colour per run, or per seed group), with a 10-step mean for noisy per-step metrics. */
function overlaySpec(runs: readonly ComparedRun[], metric: string, title: string, smooth: boolean, rules: Array<{ run: string; value: number }> = []): vl.TopLevelSpec | undefined {
  const groups = seedGroups(runs);
  const labelOf = new Map([...groups.entries()].flatMap(([label, members]) => members.map((m) => [m.name, label] as const)));
  const domain = [...groups.keys()];
  const values = runs.flatMap((run) => {
    const points = run.records.filter((r) => Number.isFinite(r.metrics[metric]));
    let sum = 0;
    return points.map((r, i) => {
      sum += r.metrics[metric]!;
      if (smooth && i >= 10) sum -= points[i - 10]!.metrics[metric]!;
      return { step: r.step, value: smooth ? sum / Math.min(i + 1, 10) : r.metrics[metric]!, run: labelOf.get(run.name)! };
    });
  });
  if (values.length === 0) return undefined;
  const color = { field: 'run', type: 'nominal', title: null, scale: { domain }, legend: { labelLimit: 320 } };
  const banded = [...groups.values()].some((m) => m.length > 1);
  const ruleValues = [...new Map(rules.map((r) => [labelOf.get(r.run)!, { run: labelOf.get(r.run)!, value: r.value }])).values()];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: smooth ? `${title} (10-step mean)` : title,
    width: 480,
    height: 220,
    background: 'white',
    layer: [
      // Seed groups: the sd band of the members at each step, under the mean line.
      ...(banded
        ? [{ data: { values }, mark: { type: 'errorband', extent: 'stdev', opacity: 0.25 }, encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'value', type: 'quantitative', title: metric }, color } }]
        : []),
      {
        data: { values },
        mark: { type: 'line', point: values.length / runs.length <= 40, tooltip: true },
        encoding: { x: { field: 'step', type: 'quantitative' }, y: { aggregate: 'mean', field: 'value', type: 'quantitative', title: metric, scale: { zero: false } }, color },
      },
      ...(ruleValues.length ? [{ data: { values: ruleValues }, mark: { type: 'rule', strokeDash: [6, 4] }, encoding: { y: { field: 'value', type: 'quantitative' }, color } }] : []),
    ],
  } as vl.TopLevelSpec;
}

/** Every other metric, one panel per key, runs overlaid (independent y per panel). */
function allMetricsSpec(runs: readonly ComparedRun[], group: string, keys: string[]): vl.TopLevelSpec {
  const values = runs.flatMap((run) => run.records.flatMap((r) => keys.filter((k) => Number.isFinite(r.metrics[k])).map((k) => ({ step: r.step, value: r.metrics[k]!, metric: k, run: run.name }))));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: group === 'train' ? 'Training (keys without a group)' : `${group}/`,
    background: 'white',
    data: { values },
    facet: { field: 'metric', type: 'nominal', title: null, sort: keys },
    columns: 3,
    spec: {
      width: 220,
      height: 110,
      mark: { type: 'line', tooltip: true },
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: { field: 'run', type: 'nominal', title: null, scale: { domain: runs.map((r) => r.name) } },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as vl.TopLevelSpec;
}

/** Final pass@k against k, one line per run. */
function passAtKSpec(runs: readonly ComparedRun[]): vl.TopLevelSpec | undefined {
  const { rows } = finalEval(runs);
  const values = rows.flatMap((row) => Object.entries(row.values).flatMap(([k, v]) => (k.includes('pass@') ? [{ k: Number(/@(\d+)$/.exec(k)![1]), value: v, run: row.run }] : [])));
  if (values.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Final pass@k on the test split',
    width: 480,
    height: 220,
    background: 'white',
    data: { values },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'k', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: [...new Set(values.map((v) => v.k))] } },
      y: { field: 'value', type: 'quantitative', title: 'pass@k', scale: { domain: [0, 1] } },
      color: { field: 'run', type: 'nominal', title: null, scale: { domain: runs.map((r) => r.name) } },
    },
  } as vl.TopLevelSpec;
}

/** Unique labels: folder names, with a number added where two runs share one. */
export function labelRuns<T extends { name: string }>(runs: T[]): T[] {
  const seen = new Map<string, number>();
  return runs.map((r) => {
    const n = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, n);
    return n === 1 ? r : { ...r, name: `${r.name} (${n})` };
  });
}

/** Writes the comparison page: config diff, overlaid metrics, final pass@k side by side, run facts. One self-contained HTML file. */
export async function writeComparePage(path: string, runs: readonly ComparedRun[]): Promise<string> {
  const svgs: string[] = [];
  const add = async (spec: vl.TopLevelSpec | undefined) => {
    if (spec) svgs.push(await renderSvg(spec));
  };
  const targets = runs.flatMap((r) => {
    const t = entropyTargetOf(r.config as { regularizers?: Array<{ use: string; with?: Record<string, unknown> }> });
    return t === undefined ? [] : [{ run: r.name, value: t }];
  });
  await add(overlaySpec(runs, 'reward/mean', 'Train reward', true));
  await add(overlaySpec(runs, 'entropy/exact', 'Entropy, exact (T=1); dashed: targets', true, targets));
  const { keys, rows } = finalEval(runs);
  for (const k of keys.filter((x) => x.includes('pass@'))) await add(overlaySpec(runs, k, k, false));
  await add(passAtKSpec(runs));
  await add(overlaySpec(runs, 'aepo/temperature', 'AEPO temperature', true));
  const shown = new Set(['step', 'reward/mean', 'entropy/exact', 'aepo/temperature', ...keys]);
  const groups = new Map<string, Set<string>>();
  for (const run of runs) {
    for (const r of run.records) {
      for (const k of Object.keys(r.metrics)) {
        if (shown.has(k)) continue;
        const g = metricGroup(k);
        if (!groups.has(g)) groups.set(g, new Set());
        groups.get(g)!.add(k);
      }
    }
  }
  const groupSvgs: string[] = [];
  for (const [g, ks] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) groupSvgs.push(await renderSvg(allMetricsSpec(runs, g, [...ks].sort())));

  const names = runs.map((r) => r.name);
  const th = (s: string) => `<th>${escapeHtml(s)}</th>`;
  const td = (s: string) => `<td>${escapeHtml(s)}</td>`;
  const diff = configDiff(runs);
  const diffHtml = diff.length
    ? `<table><tr>${th('config')}${names.map(th).join('')}</tr>${diff.map((d) => `<tr>${td(d.path)}${d.values.map(td).join('')}</tr>`).join('\n')}</table>`
    : '<p>The configs are identical.</p>';
  const evalHtml = `<table><tr>${th('run')}${th('step')}${keys.map((k) => th(k.replace(/^eval\//, ''))).join('')}</tr>${rows
    .map((r) => `<tr>${td(r.run)}${td(r.step === undefined ? '–' : String(r.step))}${keys.map((k) => td(fmt(r.values[k]))).join('')}</tr>`)
    .join('\n')}</table>`;
  const factRows = runs.map((r) => (r.meta ? metaFacts(r.meta) : {}));
  const factKeys = [...new Set(factRows.flatMap((f) => Object.keys(f)))];
  const factsHtml = factKeys.length
    ? `<table><tr>${th('')}${names.map(th).join('')}</tr>${factKeys.map((k) => `<tr>${th(k)}${factRows.map((f) => td(f[k] ?? '–')).join('')}</tr>`).join('\n')}</table>`
    : '';
  const links = runs.map((r) => `<li>${escapeHtml(r.name)}: <code>${escapeHtml(r.dir)}</code>${existsSync(join(r.dir, 'report.html')) ? ` (<a href="file://${encodeURI(join(r.dir, 'report.html'))}">report</a>)` : ''}</li>`).join('\n');
  const title = `rft compare: ${names.join(' vs ')}`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}</style></head><body>
<h1>${escapeHtml(title)}</h1>
<h2>Config differences</h2>
${diffHtml}
<h2>Final evaluation</h2>
${evalHtml}
<h2>Charts</h2>
<div class="charts">
${svgs.map((s) => `<figure>${s}</figure>`).join('\n')}
</div>
${groupSvgs.length ? `<h2>All metrics, by group</h2>\n${groupSvgs.map((s) => `<figure>${s}</figure>`).join('\n')}` : ''}
${factsHtml ? `<h2>Runs</h2>\n${factsHtml}` : ''}
<ul>${links}</ul>
</body></html>
`;
  await writeFileAtomic(path, html);
  return path;
}
