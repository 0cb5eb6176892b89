import * as vega from 'vega';
import * as vl from 'vega-lite';

/** One logged step: its index and scalar metrics (training and, on eval steps, eval). */
export interface StepRecord {
  step: number;
  metrics: Record<string, number>;
}

export interface ChartDefinition {
  /** File name stem: `reward` → `reward.svg`. */
  id: string;
  title: string;
  yTitle: string;
  /** Which metric keys are drawn; each key is one series. */
  match: (key: string) => boolean;
  /** Series label for a key (default: the key). */
  label?: (key: string) => string;
  /** Fixed y range, e.g. [0, 1] for probabilities (default: fitted to the data). */
  yDomain?: [number, number];
  /** 'step-after' for values that hold until the next step (controller settings). */
  interpolate?: 'linear' | 'step-after';
  /** Add a trailing moving average of each series over this many steps (noisy per-step metrics). */
  smooth?: number;
}

/** The report's charts. A chart with no matching metric is left out. */
export const DEFAULT_CHARTS: ChartDefinition[] = [
  {
    id: 'reward',
    title: 'Reward',
    yTitle: 'mean reward',
    match: (k) => k === 'reward/mean',
    label: () => 'train reward (mean)',
    smooth: 10,
  },
  {
    id: 'entropy',
    title: 'Policy entropy (response tokens, T=1)',
    yTitle: 'nats / token',
    match: (k) => k === 'entropy/exact' || k === 'entropy/nll',
    label: (k) => (k === 'entropy/exact' ? 'exact (softmax)' : 'nll (sampled tokens)'),
  },
  {
    id: 'pass-at-k',
    title: 'pass@k on the test split',
    yTitle: 'pass@k',
    match: (k) => /(^|\/)pass@\d+$/.test(k),
    label: (k) => k.slice(k.lastIndexOf('/') + 1),
    yDomain: [0, 1],
  },
  {
    id: 'temperature',
    title: 'Temperature chosen by the entropy controller (AEPO / DCPO)',
    yTitle: 'temperature',
    match: (k) => /^(aepo|dcpo)\/temperature$/.test(k),
    label: (k) => `${k.split('/')[0]!.toUpperCase()} temperature`,
    interpolate: 'step-after',
    // The controller switches between two values almost every step: the raw line is a
    // solid band, its 10-step mean shows where the run spends its time.
    smooth: 10,
  },
];

export interface ChartData {
  definition: ChartDefinition;
  /** Series label → points (step, value), in step order. */
  series: Map<string, Array<{ step: number; value: number }>>;
  /** Dashed horizontal reference lines (e.g. the controller's target entropy). */
  rules?: Array<{ label: string; value: number }>;
}

/** Collects each chart's series from the step records; charts without data are dropped. */
export function collectCharts(records: readonly StepRecord[], charts = DEFAULT_CHARTS): ChartData[] {
  const out: ChartData[] = [];
  for (const definition of charts) {
    const series = new Map<string, Array<{ step: number; value: number }>>();
    for (const r of records) {
      for (const [key, value] of Object.entries(r.metrics)) {
        if (!definition.match(key) || !Number.isFinite(value)) continue;
        const label = definition.label?.(key) ?? key;
        let points = series.get(label);
        if (!points) series.set(label, (points = []));
        points.push({ step: r.step, value });
      }
    }
    if (definition.smooth && definition.smooth > 1) {
      const single = series.size === 1;
      for (const [label, points] of [...series.entries()]) {
        if (points.length < 2 * definition.smooth) continue;
        const name = single ? `${definition.smooth}-step average` : `${label} (${definition.smooth}-step average)`;
        series.set(name, movingAverage(points, definition.smooth));
      }
    }
    if (series.size > 0) {
      // pass@1 before pass@16: sort labels by their number where they have one.
      const sorted = [...series.entries()].sort(([a], [b]) => labelOrder(a) - labelOrder(b) || a.localeCompare(b));
      out.push({ definition, series: new Map(sorted) });
    }
  }
  return out;
}

/** Trailing mean over the last `window` points (fewer at the start). */
function movingAverage(points: ReadonlyArray<{ step: number; value: number }>, window: number) {
  let sum = 0;
  return points.map((p, i) => {
    sum += p.value;
    if (i >= window) sum -= points[i - window]!.value;
    return { step: p.step, value: sum / Math.min(i + 1, window) };
  });
}

function labelOrder(label: string): number {
  const m = /@(\d+)$/.exec(label);
  return m ? Number(m[1]) : 0;
}

/** A vega-lite line chart of one chart's series, with its reference lines dashed and labelled. */
export function chartSpec(chart: ChartData): vl.TopLevelSpec {
  const spec = lineSpec(chart);
  const rules = chart.rules ?? [];
  if (rules.length === 0) return spec as unknown as vl.TopLevelSpec;
  const { data, mark, encoding, $schema, title, width, height, background } = spec as Record<string, unknown>;
  const ruleData = { values: rules };
  const y = { field: 'value', type: 'quantitative' };
  return {
    $schema,
    title,
    width,
    height,
    background,
    layer: [
      { data, mark, encoding },
      { data: ruleData, mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5, color: '#555' }, encoding: { y } },
      {
        data: ruleData,
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -2, color: '#555', fontSize: 11 },
        encoding: { y, x: { value: 4 }, text: { field: 'label' } },
      },
    ],
  } as vl.TopLevelSpec;
}

function lineSpec(chart: ChartData): Record<string, unknown> {
  const smoothed = (series: string) => /\d+-step average/.test(series);
  const anySmoothed = [...chart.series.keys()].some(smoothed);
  const values = [...chart.series.entries()].flatMap(([series, points]) =>
    points.map((p) => ({ ...p, series, kind: anySmoothed && !smoothed(series) ? 'raw' : 'mean' })),
  );
  const singlePoints = [...chart.series.values()].every((p) => p.length <= 1);
  const longest = Math.max(...[...chart.series.values()].map((p) => p.length));
  let domain = chart.definition.yDomain;
  if (!domain && values.length > 0) {
    // A constant series (e.g. a temperature that never switched) still gets a readable axis;
    // reference lines stay inside the plot.
    const ys = [...values.map((v) => v.value), ...(chart.rules ?? []).map((r) => r.value)];
    const lo = Math.min(...ys);
    const hi = Math.max(...ys);
    if (hi - lo < 1e-9) domain = [lo - Math.max(0.1, Math.abs(lo) * 0.2), hi + Math.max(0.1, Math.abs(hi) * 0.2)];
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.definition.title,
    width: 480,
    height: 220,
    background: 'white',
    data: { values },
    mark: {
      type: singlePoints ? 'point' : 'line',
      point: !singlePoints && longest <= 60,
      interpolate: chart.definition.interpolate ?? 'linear',
      tooltip: true,
    },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step', axis: { tickMinStep: 1 } },
      y: {
        field: 'value',
        type: 'quantitative',
        title: chart.definition.yTitle,
        scale: domain ? { domain } : { zero: false },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        sort: [...chart.series.keys()],
        legend: { labelLimit: 260 },
      },
      // Raw series fade behind their moving averages.
      ...(anySmoothed
        ? {
            opacity: { field: 'kind', type: 'nominal', scale: { domain: ['raw', 'mean'], range: [0.35, 1] }, legend: null },
            strokeWidth: { field: 'kind', type: 'nominal', scale: { domain: ['raw', 'mean'], range: [1, 2.5] }, legend: null },
          }
        : {}),
    },
  };
}

/** A metric's group: the part of its key before the first `/` (`train` for keys without one). */
export function metricGroup(key: string): string {
  const i = key.indexOf('/');
  return i > 0 ? key.slice(0, i) : 'train';
}

export interface GroupChart {
  /** File name stem: `group-clip`. */
  id: string;
  group: string;
  keys: string[];
  spec: vl.TopLevelSpec;
}

/**
 * One chart per metric group (key prefix) of every logged key that `covered` leaves out:
 * small multiples, one panel per key with its own y scale (a group mixes units, e.g.
 * response lengths and the truncated fraction).
 */
export function groupCharts(records: readonly StepRecord[], covered: (key: string) => boolean = () => false): GroupChart[] {
  const groups = new Map<string, Set<string>>();
  for (const r of records) {
    for (const [key, value] of Object.entries(r.metrics)) {
      if (key === 'step' || covered(key) || !Number.isFinite(value)) continue;
      const g = metricGroup(key);
      if (!groups.has(g)) groups.set(g, new Set());
      groups.get(g)!.add(key);
    }
  }
  // The step's training keys first, timings last, the rest alphabetically.
  const order = (g: string) => (g === 'train' ? 0 : g === 'time' ? 2 : 1);
  return [...groups.entries()]
    .sort(([a], [b]) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([group, keySet]) => {
      const keys = [...keySet].sort();
      const values = records.flatMap((r) =>
        keys.filter((k) => Number.isFinite(r.metrics[k])).map((k) => ({ step: r.step, value: r.metrics[k]!, metric: k })),
      );
      const longest = Math.max(...keys.map((k) => values.filter((v) => v.metric === k).length));
      const spec = {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: group === 'train' ? 'Training (keys without a group)' : `${group}/`,
        background: 'white',
        data: { values },
        facet: { field: 'metric', type: 'nominal', title: null, sort: keys, header: { labelFontSize: 11 } },
        columns: 3,
        spec: {
          width: 220,
          height: 110,
          mark: { type: longest <= 1 ? 'point' : 'line', point: longest > 1 && longest <= 40, tooltip: true },
          encoding: {
            x: { field: 'step', type: 'quantitative', title: 'step', axis: { tickMinStep: 1 } },
            y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
          },
        },
        resolve: { scale: { y: 'independent' } },
      } as vl.TopLevelSpec;
      return { id: `group-${group.replace(/[^\w.-]/g, '_')}`, group, keys, spec };
    });
}

/** Renders a vega-lite spec to SVG headlessly (no canvas, no browser). */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
