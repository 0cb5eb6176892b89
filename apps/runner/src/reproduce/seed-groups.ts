import type * as vl from 'vega-lite';
import type { StepRecord } from '../report/charts';
import type { SuiteRunResult, SuiteSummaryRow } from './report';

/**
 * A suite with seeds: every configuration (group) ran once per seed. Tables show mean ± sd
 * over the seeds (sample sd, n − 1) and charts a band of ± 1 sd around the mean, so a
 * difference between configurations can be read against the spread between seeds.
 */

export interface MeanSd {
  mean: number;
  sd: number;
  n: number;
}

/** Mean and sample standard deviation of the finite values (sd 0 for one value, NaN for none). */
export function meanSd(values: readonly number[]): MeanSd {
  const xs = values.filter(Number.isFinite);
  const n = xs.length;
  if (n === 0) return { mean: Number.NaN, sd: Number.NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
}

/** One configuration of a seeded suite, summarised over its seeds. */
export interface GroupSummaryRow {
  group: string;
  regularizers: string;
  targetEntropy?: number;
  seeds: number[];
  rewardEnd: MeanSd;
  entropyExactEnd: MeanSd;
  entropySecondHalf: MeanSd;
  passAt1End: MeanSd;
  k: number;
  passAtKEnd: MeanSd;
  /** Seeds whose second-half mean entropy lies within ±10% of the target (claim 2 of the paper). */
  seedsHoldingTarget?: number;
}

/** Tolerance of "holds the target": within this fraction of it, over the second half of the steps. */
export const TARGET_TOLERANCE = 0.1;

export function summarizeGroups(runs: readonly SuiteRunResult[], rows: readonly SuiteSummaryRow[]): GroupSummaryRow[] {
  const order = [...new Set(runs.map((r) => r.group))];
  return order.map((group) => {
    const members = runs.map((r, i) => ({ run: r, row: rows[i]! })).filter((m) => m.run.group === group);
    const first = members[0]!.row;
    const k = Math.max(...members.map((m) => m.row.k));
    const target = first.targetEntropy;
    return {
      group,
      regularizers: first.regularizers,
      ...(target !== undefined ? { targetEntropy: target } : {}),
      seeds: members.map((m) => m.run.seed ?? Number.NaN),
      rewardEnd: meanSd(members.map((m) => m.row.reward[1])),
      entropyExactEnd: meanSd(members.map((m) => m.row.entropyExact[1])),
      entropySecondHalf: meanSd(members.map((m) => m.row.entropySecondHalf)),
      passAt1End: meanSd(members.map((m) => m.row.passAt1[1])),
      k,
      passAtKEnd: meanSd(members.map((m) => (m.row.k === k ? m.row.passAtK[1] : Number.NaN))),
      ...(target !== undefined
        ? { seedsHoldingTarget: members.filter((m) => Math.abs(m.row.entropySecondHalf - target) <= TARGET_TOLERANCE * target).length }
        : {}),
    };
  });
}

const pm = (x: MeanSd, digits = 3) => (x.n === 0 ? '–' : x.n === 1 ? x.mean.toFixed(digits) : `${x.mean.toFixed(digits)} ± ${x.sd.toFixed(digits)}`);

/** The seeded comparison table as Markdown: one row per configuration, mean ± sd over seeds. */
export function formatGroupTable(groups: readonly GroupSummaryRow[]): string {
  const k = groups[0]?.k ?? 1;
  const header = ['run', 'seeds', 'regularizers', 'target H', 'reward (end)', 'entropy (end)', 'entropy, 2nd half', 'holds target ±10%', 'pass@1 (end)', `pass@${k} (end)`];
  const body = groups.map((g) => [
    g.group,
    String(g.seeds.length),
    g.regularizers,
    g.targetEntropy === undefined ? '–' : g.targetEntropy.toFixed(2),
    pm(g.rewardEnd),
    pm(g.entropyExactEnd),
    pm(g.entropySecondHalf),
    g.seedsHoldingTarget === undefined ? '–' : `${g.seedsHoldingTarget}/${g.seeds.length}`,
    pm(g.passAt1End),
    g.k === k ? pm(g.passAtKEnd) : `${pm(g.passAtKEnd)} (k=${g.k})`,
  ]);
  return [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/**
 * A per-step chart with one line per configuration (the mean over its seeds) and a band of
 * ± 1 sd (vega-lite's errorband), plus optional dashed rules (e.g. each target entropy).
 */
export function seedBandSpec(
  runs: readonly SuiteRunResult[],
  pick: (run: SuiteRunResult) => readonly StepRecord[],
  metric: string,
  title: string,
  yTitle: string,
  rules: Array<{ series: string; value: number }> = [],
): vl.TopLevelSpec | undefined {
  const values = runs.flatMap((run) =>
    pick(run).flatMap((r) => {
      const v = r.metrics[metric];
      return v !== undefined && Number.isFinite(v) ? [{ step: r.step, value: v, series: run.group }] : [];
    }),
  );
  if (values.length === 0) return undefined;
  const order = [...new Set(runs.map((r) => r.group))].filter((g) => values.some((v) => v.series === g));
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain: order, scheme: palette(order.length) }, legend: { labelLimit: 260 } };
  const x = { field: 'step', type: 'quantitative', title: 'step' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${title} (mean over seeds, band ± 1 sd)`,
    width: 480,
    height: 260,
    background: 'white',
    layer: [
      { data: { values }, mark: { type: 'errorband', extent: 'stdev', opacity: 0.2 }, encoding: { x, y: { field: 'value', type: 'quantitative', title: yTitle }, color } },
      { data: { values }, mark: { type: 'line' }, encoding: { x, y: { aggregate: 'mean', field: 'value', type: 'quantitative', title: yTitle }, color } },
      ...(rules.length
        ? [
            {
              data: { values: rules.filter((r) => order.includes(r.series)) },
              mark: { type: 'rule', strokeDash: [5, 4], strokeWidth: 1.5 },
              encoding: { y: { field: 'value', type: 'quantitative' }, color },
            },
          ]
        : []),
    ],
  } as unknown as vl.TopLevelSpec;
}

/** A colour scheme with a distinct colour per configuration (the default one repeats after 10). */
const palette = (n: number) => (n > 10 ? 'tableau20' : 'tableau10');

/** pass@k against k at each configuration's last evaluation: mean over seeds, band ± 1 sd. */
export function seedPassAtKSpec(runs: readonly SuiteRunResult[]): vl.TopLevelSpec | undefined {
  const values: Array<{ k: number; value: number; series: string }> = [];
  for (const run of runs) {
    const last = [...run.records].reverse().find((r) => Object.keys(r.metrics).some((key) => key.startsWith('eval/pass@')));
    if (!last) continue;
    for (const [key, value] of Object.entries(last.metrics)) {
      const m = /^eval\/pass@(\d+)$/.exec(key);
      if (m && Number.isFinite(value)) values.push({ k: Number(m[1]), value, series: run.group });
    }
  }
  // The starting policy (step 0 of every seed of the first configuration) as a reference.
  const firstGroup = runs[0]?.group;
  for (const run of runs.filter((r) => r.group === firstGroup)) {
    const start = run.records.find((r) => r.step === 0 && Object.keys(r.metrics).some((key) => key.startsWith('eval/pass@')));
    for (const [key, value] of Object.entries(start?.metrics ?? {})) {
      const m = /^eval\/pass@(\d+)$/.exec(key);
      if (m && Number.isFinite(value)) values.push({ k: Number(m[1]), value, series: 'start (step 0)' });
    }
  }
  if (values.length === 0) return undefined;
  const order = [...[...new Set(runs.map((r) => r.group))].filter((g) => values.some((v) => v.series === g)), 'start (step 0)'];
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain: order, scheme: palette(order.length) }, legend: { labelLimit: 260 } };
  const x = { field: 'k', type: 'quantitative', title: 'k', scale: { type: 'log', base: 2 }, axis: { values: [...new Set(values.map((v) => v.k))] } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'pass@k on the test split at the end (mean over seeds, band ± 1 sd)',
    width: 480,
    height: 260,
    background: 'white',
    layer: [
      { data: { values }, mark: { type: 'errorband', extent: 'stdev', opacity: 0.2 }, encoding: { x, y: { field: 'value', type: 'quantitative', title: 'pass@k' }, color } },
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: { x, y: { aggregate: 'mean', field: 'value', type: 'quantitative', title: 'pass@k', scale: { domain: [0, 1] } }, color },
      },
    ],
  } as unknown as vl.TopLevelSpec;
}
