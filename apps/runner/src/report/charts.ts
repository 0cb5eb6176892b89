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
  },
];

export interface ChartData {
  definition: ChartDefinition;
  /** Series label → points (step, value), in step order. */
  series: Map<string, Array<{ step: number; value: number }>>;
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

/** A vega-lite line chart of one chart's series. */
export function chartSpec(chart: ChartData): vl.TopLevelSpec {
  const values = [...chart.series.entries()].flatMap(([series, points]) => points.map((p) => ({ ...p, series })));
  const singlePoints = [...chart.series.values()].every((p) => p.length <= 1);
  const longest = Math.max(...[...chart.series.values()].map((p) => p.length));
  let domain = chart.definition.yDomain;
  if (!domain && values.length > 0) {
    // A constant series (e.g. a temperature that never switched) still gets a readable axis.
    const lo = Math.min(...values.map((v) => v.value));
    const hi = Math.max(...values.map((v) => v.value));
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
    },
  } as vl.TopLevelSpec;
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
